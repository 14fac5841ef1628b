// HDF5 handles, error checking and the library lock; see hdf5.hpp.
#include "io/hdf5.hpp"

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/input_error.hpp"

namespace toolgrpo::io::h5 {

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex m;
  return m;
}

namespace {

std::string message_text(hid_t msg) {
  char buf[256] = "";
  // Error-stack text is best effort: a failure here leaves the text empty rather than hiding the real error.
  if (H5Eget_msg(msg, nullptr, buf, sizeof buf) < 0) return "";
  return buf;
}

struct StackText {
  std::string full;       // every entry, outermost first
  std::string innermost;  // the last entry's description alone (where the failure started)
};

herr_t walk_one(unsigned n, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<StackText*>(data);
  try {
    if (n > 0) out->full += "; ";
    std::string desc = e->desc ? e->desc : "";
    for (char& c : desc)
      if (c == '\n') c = ' ';  // some descriptions embed ctime()'s newline
    out->full += std::string(e->func_name ? e->func_name : "?") + "(): " + desc;
    const std::string maj = message_text(e->maj_num), min = message_text(e->min_num);
    if (!maj.empty() || !min.empty()) out->full += " [" + maj + " / " + min + "]";
    out->innermost = desc.empty() ? min : desc;
  } catch (...) {
    return -1;
  }
  return 0;
}

// The current error stack (cleared). Walks a copy (H5Eget_current_stack also clears the default stack), so that
// the H5Eget_msg calls made while walking cannot disturb the stack being walked.
StackText stack_text() {
  const hid_t copy = H5Eget_current_stack();
  if (copy < 0) return {"(the HDF5 error stack could not be read)", ""};
  StackText text;
  if (H5Ewalk2(copy, H5E_WALK_DOWNWARD, walk_one, &text) < 0)
    text.full += " (the HDF5 error stack could not be walked)";
  H5Eclose_stack(
      copy);  // unchecked: already reporting an error, and a copy that will not close leaks only itself
  return text;
}

}  // namespace

Lock::Lock() : lock_(library_mutex()) {
  // Errors are reported by TOOLGRPO_H5_CHECK; HDF5 must not print its error stack ("HDF5-DIAG: Error detected")
  // to stderr itself, unless the user asked for the libraries' detail (TOOLGRPO_VERBOSE). Set on every lock:
  // cheap, per thread in thread-safe HDF5 builds, and it follows the environment.
  if (common::verbose_errors())
    TOOLGRPO_H5_CHECK(H5Eset_auto2(H5E_DEFAULT, reinterpret_cast<H5E_auto2_t>(H5Eprint2), stderr),
                      "turn HDF5's automatic error printing on");
  else
    TOOLGRPO_H5_CHECK(H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr), "turn HDF5's automatic error printing off");
}

std::string error_stack() { return stack_text().full; }

std::string short_file(const char* file) {
  const std::string f = file;
  const std::size_t last = f.rfind('/');
  if (last == std::string::npos || last == 0) return f;
  const std::size_t before = f.rfind('/', last - 1);
  return before == std::string::npos ? f : f.substr(before + 1);
}

void fail(const char* file, int line, const char* call, const std::string& what) {
  const StackText stack = stack_text();  // read (and cleared) whether or not it is shown
  std::string call_name = call;
  const std::size_t paren = call_name.find('(');
  if (paren != std::string::npos) call_name = call_name.substr(0, paren);
  if (common::verbose_errors())
    throw Error(short_file(file) + ":" + std::to_string(line) + ": " + what + ": " + call_name + " failed" +
                (stack.full.empty() ? std::string() : ": " + stack.full));
  // The innermost entry says what went wrong (a system error, a bad signature); the rest is HDF5's call chain.
  throw Error(what + ": " + call_name + " failed" +
              (stack.innermost.empty() ? std::string() : ": " + stack.innermost));
}

PropList file_access(const void* mpi_comm) {
  PropList fapl(TOOLGRPO_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), "create file access properties"));
  if (mpi_comm == nullptr) {
    TOOLGRPO_H5_CHECK(H5Pset_fapl_sec2(fapl.get()), "select the POSIX (sec2) driver");
  } else {
#ifdef H5_HAVE_PARALLEL
    TOOLGRPO_H5_CHECK(H5Pset_fapl_mpio(fapl.get(), *static_cast<const MPI_Comm*>(mpi_comm), MPI_INFO_NULL),
                      "select the MPI-IO driver");
#else
    throw Error(
        "this HDF5 library was built without MPI-IO (parallel HDF5): checkpoints cannot be written by "
        "several ranks together; set checkpoint.collective=false");
#endif
  }
  TOOLGRPO_H5_CHECK(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "set the file close degree");
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
  // One process: keep HDF5's file locks, but do not fail on file systems without flock (some Lustre/NFS
  // mounts). Several ranks together: no locks (they coordinate their writes themselves).
  TOOLGRPO_H5_CHECK(H5Pset_file_locking(fapl.get(), mpi_comm == nullptr, true), "set file locking");
#endif
  return fapl;
}

PropList file_image_access(const void* image, std::size_t size) {
  PropList fapl(TOOLGRPO_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), "create file access properties"));
  TOOLGRPO_H5_CHECK(H5Pset_fapl_core(fapl.get(), 1 << 16, false), "select the in-memory (core) driver");
  TOOLGRPO_H5_CHECK(H5Pset_file_image(fapl.get(), const_cast<void*>(image), size),  // copies the bytes
                    "hand HDF5 the file image");
  TOOLGRPO_H5_CHECK(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "set the file close degree");
  return fapl;
}

Datatype string_type() {
  Datatype t(TOOLGRPO_H5_CHECK(H5Tcopy(H5T_C_S1), "copy the C string type"));
  TOOLGRPO_H5_CHECK(H5Tset_size(t.get(), H5T_VARIABLE), "make a variable-length string type");
  TOOLGRPO_H5_CHECK(H5Tset_cset(t.get(), H5T_CSET_UTF8), "set the UTF-8 character set");
  return t;
}

void attribute_write(hid_t obj, const char* name, hid_t file_type, hid_t mem_type, const void* value,
                     const std::string& where) {
  const auto what = [&](const char* verb) {
    return std::string(verb) + " attribute '" + name + "' of " + where;
  };
  Dataspace space(TOOLGRPO_H5_CHECK(H5Screate(H5S_SCALAR), what("make the dataspace of")));
  Attribute a(TOOLGRPO_H5_CHECK(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                what("create")));
  TOOLGRPO_H5_CHECK(H5Awrite(a.get(), mem_type, value), what("write"));
  TOOLGRPO_H5_CHECK(a.close(), what("close"));
}

void attribute_write_string(hid_t obj, const char* name, const std::string& value, const std::string& where) {
  const Datatype t = string_type();
  const char* p = value.c_str();
  attribute_write(obj, name, t.get(), t.get(), &p, where);
}

bool attribute_exists(hid_t obj, const char* name, const std::string& where) {
  return TOOLGRPO_H5_CHECK(H5Aexists(obj, name),
                           "look for attribute '" + std::string(name) + "' of " + where) > 0;
}

void attribute_read(hid_t obj, const char* name, hid_t mem_type, void* value, const std::string& where) {
  const auto what = [&](const char* verb) {
    return std::string(verb) + " attribute '" + name + "' of " + where;
  };
  const Attribute a(TOOLGRPO_H5_CHECK(H5Aopen(obj, name, H5P_DEFAULT), what("open")));
  const Dataspace space(TOOLGRPO_H5_CHECK(H5Aget_space(a.get()), what("get the dataspace of")));
  const hssize_t n =
      TOOLGRPO_H5_CHECK(H5Sget_simple_extent_npoints(space.get()), what("count the values of"));
  if (n != 1) throw Error(what("read") + ": expected one value, found " + std::to_string(n));
  TOOLGRPO_H5_CHECK(H5Aread(a.get(), mem_type, value), what("read"));
}

namespace {

// Reads one string value from an attribute (`is_attribute`) or a scalar dataset `id` of string type.
std::string read_string(hid_t id, bool is_attribute, const std::string& what) {
  const Datatype file_type(
      TOOLGRPO_H5_CHECK(is_attribute ? H5Aget_type(id) : H5Dget_type(id), "get the type of " + what));
  const H5T_class_t cls = H5Tget_class(file_type.get());
  TOOLGRPO_H5_CHECK(static_cast<int>(cls), "get the type class of " + what);
  if (cls != H5T_STRING)
    throw Error(what + ": expected a string, found HDF5 type class " + std::to_string(cls));
  const Dataspace space(
      TOOLGRPO_H5_CHECK(is_attribute ? H5Aget_space(id) : H5Dget_space(id), "get the dataspace of " + what));
  const hssize_t n =
      TOOLGRPO_H5_CHECK(H5Sget_simple_extent_npoints(space.get()), "count the values of " + what);
  if (n != 1) throw Error(what + ": expected one string, found " + std::to_string(n));
  const htri_t variable =
      TOOLGRPO_H5_CHECK(H5Tis_variable_str(file_type.get()), "inspect the string type of " + what);
  const auto read = [&](hid_t mem_type, void* buf) {
    return is_attribute ? H5Aread(id, mem_type, buf)
                        : H5Dread(id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  if (variable > 0) {
    const Datatype mem = string_type();
    char* p = nullptr;
    // Freed on every path (H5free_memory returns an error only for memory HDF5 did not allocate).
    TOOLGRPO_H5_CHECK(read(mem.get(), &p), "read " + what);
    const std::unique_ptr<char, herr_t (*)(void*)> text(p, H5free_memory);
    return p ? std::string(p) : std::string();
  }
  const std::size_t size = H5Tget_size(file_type.get());
  if (size == 0) fail(__FILE__, __LINE__, "H5Tget_size", "get the string size of " + what);
  {  // the size comes from the file: no buffer larger than the file itself
    const File file(TOOLGRPO_H5_CHECK(H5Iget_file_id(id), "get the file of " + what));
    hsize_t file_size = 0;
    TOOLGRPO_H5_CHECK(H5Fget_filesize(file.get(), &file_size), "get the size of the file of " + what);
    if (size > file_size)
      throw Error(what + ": a fixed-length string of " + std::to_string(size) + " bytes in a file of " +
                  std::to_string(file_size));
  }
  const Datatype mem(TOOLGRPO_H5_CHECK(H5Tcopy(file_type.get()), "copy the string type of " + what));
  TOOLGRPO_H5_CHECK(H5Tset_strpad(mem.get(), H5T_STR_NULLPAD), "set the string padding for " + what);
  std::vector<char> buf(size, '\0');
  TOOLGRPO_H5_CHECK(read(mem.get(), buf.data()), "read " + what);
  return std::string(buf.data(), strnlen(buf.data(), size));
}

}  // namespace

std::string attribute_read_string(hid_t obj, const char* name, const std::string& where) {
  const std::string what = "attribute '" + std::string(name) + "' of " + where;
  const Attribute a(TOOLGRPO_H5_CHECK(H5Aopen(obj, name, H5P_DEFAULT), "open " + what));
  return read_string(a.get(), true, what);
}

std::string dataset_read_string(hid_t dataset, const std::string& where) {
  return read_string(dataset, false, where);
}

}  // namespace toolgrpo::io::h5
