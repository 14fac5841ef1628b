// The HDF5 C API, wrapped once: move-only RAII handles for each kind of hid_t, TOOLGRPO_H5_CHECK at every
// call (file:line, what was being done, the HDF5 error stack), and the one lock that serialises HDF5 use in
// io/ (Debian's libhdf5-openmpi is not a thread-safe build and checkpoints are written from a background
// thread). Only io/ includes this; files are opened with the POSIX (sec2) driver, except the ranks' parts of
// a collective checkpoint write (MPI-IO: io is handed the communicator and makes no MPI calls itself).
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace toolgrpo::io::h5 {

// A failed HDF5 call: "WHAT: CALL failed: the innermost HDF5 error", or with TOOLGRPO_VERBOSE
// "io/FILE.cpp:LINE: WHAT: CALL failed: the whole HDF5 error stack".
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The one mutex of HDF5 use in io/: process-wide, because the HDF5 library state it guards is. Recursive, so
// that a handle's destructor (which takes it alone: it cannot throw) may run while its owner holds a Lock.
std::recursive_mutex& library_mutex();

// Held around every HDF5 call in io/. Taking it also turns HDF5's automatic error printing off (errors reach
// the caller as h5::Error instead), or on with TOOLGRPO_VERBOSE.
class Lock {
 public:
  Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

// The current HDF5 error stack as text ("H5Fopen(): unable to open file [File accessibility / ...]; ..."),
// outermost call first; the stack is cleared. "" when it is empty. In h5::Error's messages only with
// TOOLGRPO_VERBOSE (common::verbose_errors); otherwise they carry its innermost entry's description alone.
std::string error_stack();

[[noreturn]] void fail(const char* file, int line, const char* call, const std::string& what);

// "io/checkpoint_file.cpp" from a full __FILE__ path: its last two components (for call-site messages).
std::string short_file(const char* file);

template <class T, class What>
T check(T value, const char* call, const char* file, int line, What&& what) {
  static_assert(std::is_signed_v<T>,
                "TOOLGRPO_H5_CHECK needs a call that returns hid_t, herr_t, htri_t or ssize_t");
  if (value < 0) fail(file, line, call, what());
  return value;
}

}  // namespace toolgrpo::io::h5

// Evaluates `expr` (an HDF5 call returning hid_t/herr_t/htri_t/ssize_t), throws h5::Error naming this
// file:line, `what` (a std::string expression, built only on failure: "create dataset /model/x in f.h5.tmp")
// and the HDF5 error stack when it is negative; otherwise yields its value.
#define TOOLGRPO_H5_CHECK(expr, what) \
  ::toolgrpo::io::h5::check((expr), #expr, __FILE__, __LINE__, [&]() -> std::string { return (what); })

namespace toolgrpo::io::h5 {

// One hid_t, closed by `Close` when the handle dies (under the lock). Move-only.
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) noexcept : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.release();
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  explicit operator bool() const noexcept { return id_ >= 0; }
  hid_t release() noexcept { return std::exchange(id_, H5I_INVALID_HID); }
  // Closes now and returns HDF5's status for the caller to check (a file's close writes its metadata).
  herr_t close() {
    if (id_ < 0) return 0;
    const std::lock_guard<std::recursive_mutex> lock(library_mutex());
    return Close(release());
  }
  // Closes now, ignoring errors (destructor, error paths).
  void reset() noexcept {
    if (id_ < 0) return;
    const std::lock_guard<std::recursive_mutex> lock(library_mutex());
    Close(release());
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using File = Handle<H5Fclose>;
using Group = Handle<H5Gclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Datatype =
    Handle<H5Tclose>;  // only for types made by H5Tcopy/H5Tcreate/H5*get_type, never H5T_NATIVE_*
using Attribute = Handle<H5Aclose>;
using PropList = Handle<H5Pclose>;
using Object = Handle<H5Oclose>;  // H5Oopen: a group, dataset or named datatype

// Small helpers over the handles; callers hold a Lock. `where` names the object in error messages
// ("/model/x in f.h5").

// File access properties: the POSIX (sec2) driver, and file locking that is ignored where the file system
// lacks it; or, with `mpi_comm` (the address of an MPI_Comm), HDF5's MPI-IO driver for the ranks of that
// communicator opening one file together, file locking off (throws when this HDF5 build has no MPI-IO).
PropList file_access(const void* mpi_comm = nullptr);
// File access properties for reading an HDF5 file held in memory: the core driver over a copy of the `size`
// bytes at `image` (no file on disk is opened or written).
PropList file_image_access(const void* image, std::size_t size);
// Variable-length UTF-8 string type (h5py reads it as str).
Datatype string_type();
// Scalar attribute `name` on `obj` of file type `file_type`, written from `value` of memory type `mem_type`.
void attribute_write(hid_t obj, const char* name, hid_t file_type, hid_t mem_type, const void* value,
                     const std::string& where);
void attribute_write_string(hid_t obj, const char* name, const std::string& value, const std::string& where);
bool attribute_exists(hid_t obj, const char* name, const std::string& where);
// Reads scalar attribute `name` (converted to `mem_type`) into `value`.
void attribute_read(hid_t obj, const char* name, hid_t mem_type, void* value, const std::string& where);
// Reads a string attribute (variable- or fixed-length).
std::string attribute_read_string(hid_t obj, const char* name, const std::string& where);
// Reads a scalar string dataset (variable- or fixed-length).
std::string dataset_read_string(hid_t dataset, const std::string& where);

}  // namespace toolgrpo::io::h5
