// libFuzzer target over the YAML run configuration (app/config/config.cpp, yaml-cpp). The configuration is
// trusted (docs/DESIGN.md section 9), but a mistyped file must still end in a clear error, not a crash or a
// library exception: the input is the file's text, read for a job of 2 ranks. A parse either throws
// UsageError whose message starts with the file's name, or returns a config that config_to_yaml writes and
// config_parse reads back to the same YAML.
#include <cstddef>
#include <cstdint>
#include <string>

#include "app/cli/cli_args.hpp"
#include "app/config/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace toolgrpo::app;
using toolgrpo::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string name = "run.yaml";
  const std::string text(reinterpret_cast<const char*>(data), size);
  Config c;
  try {
    c = config_parse(text, name, {}, 2);
  } catch (const UsageError& e) {
    require(std::string(e.what()).rfind(name + ": ", 0) == 0);
    return 0;
  }
  const std::string yaml = config_to_yaml(c);
  std::string again;
  try {
    again = config_to_yaml(config_parse(yaml, "resolved.yaml", {}, 2));
  } catch (const UsageError&) {
    require(false);  // the resolved dump of an accepted config must be accepted
  }
  require(again == yaml);
  return 0;
}
