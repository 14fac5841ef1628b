# fuzz_checkpoint: the HDF5 checkpoint reader under libFuzzer (tests/fuzz/fuzz_checkpoint.cpp). The reward-only
# fuzz build finds no MPI or HDF5 of its own; this finds them here (the parallel HDF5 build, as the main build
# uses, whose hdf5.h includes mpi.h) and builds the target from the io/ sources the reader needs, compiled with
# the fuzzer's sanitizers (libhdf5 itself is not instrumented). Without MPI or HDF5 it says so and builds nothing.
# Seeds: tests/fuzz/checkpoint_seeds.sh; inputs that once crashed: tests/fuzz/regressions/checkpoint/.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(MPI COMPONENTS C QUIET)
find_package(HDF5 COMPONENTS C QUIET)
if(NOT MPI_C_FOUND OR NOT HDF5_FOUND)
  message(STATUS "fuzz_checkpoint: not built (it needs MPI and HDF5)")
  return()
endif()
get_filename_component(_toolgrpo_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
add_executable(fuzz_checkpoint "${CMAKE_CURRENT_LIST_DIR}/fuzz_checkpoint.cpp"
  "${_toolgrpo_root}/io/checkpoint_dir.cpp" "${_toolgrpo_root}/io/checkpoint_file.cpp"
  "${_toolgrpo_root}/io/checkpoint_parts.cpp" "${_toolgrpo_root}/io/checkpoint_reader.cpp"
  "${_toolgrpo_root}/io/checkpoint_writer.cpp" "${_toolgrpo_root}/io/crc32c.cpp"
  "${_toolgrpo_root}/io/durable_file.cpp" "${_toolgrpo_root}/io/hdf5.cpp")
target_include_directories(fuzz_checkpoint PRIVATE "${_toolgrpo_root}")
target_compile_features(fuzz_checkpoint PRIVATE cxx_std_17)
target_compile_definitions(fuzz_checkpoint PRIVATE OMPI_SKIP_MPICXX MPICH_SKIP_MPICXX)
target_link_libraries(fuzz_checkpoint PRIVATE hdf5::hdf5 MPI::MPI_C)
target_compile_options(fuzz_checkpoint PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1)
target_link_options(fuzz_checkpoint PRIVATE -fsanitize=fuzzer,address,undefined)
unset(_toolgrpo_root)
