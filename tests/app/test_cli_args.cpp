// CliArgs on hand-written argument lists: options with separate and inline values, flags, positionals, and
// the UsageErrors for unknown options, missing values and bad numbers.
#include <gtest/gtest.h>

#include "app/cli_args.hpp"
#include "app/commands.hpp"

namespace toolgrpo::app {
namespace {

const std::vector<std::string> kOptions = {"--data", "--step"};
const std::vector<std::string> kFlags = {"--dry-run"};

std::string usage_message(const std::vector<std::string>& args) {
  try {
    CliArgs cli(args, kOptions, kFlags);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(CliArgs, OptionsFlagsAndPositionals) {
  const CliArgs cli({"in.jsonl", "--data", "a b", "--step=7", "--dry-run", "extra"}, kOptions, kFlags);
  EXPECT_EQ(cli.get("--data"), "a b");
  EXPECT_EQ(cli.get_int("--step"), 7);
  EXPECT_TRUE(cli.has("--dry-run"));
  EXPECT_EQ(cli.positional(), (std::vector<std::string>{"in.jsonl", "extra"}));
  EXPECT_FALSE(CliArgs({}, kOptions, kFlags).has("--data"));
}

TEST(CliArgs, ErrorsNameTheOption) {
  EXPECT_NE(usage_message({"--bogus"}).find("unknown option --bogus"), std::string::npos);
  EXPECT_NE(usage_message({"--data"}).find("--data needs a value"), std::string::npos);
  EXPECT_NE(usage_message({"--dry-run=1"}).find("--dry-run takes no value"), std::string::npos);
  EXPECT_NE(usage_message({"--help"}).find("--data VALUE"), std::string::npos);
  const CliArgs cli({"--step", "nine"}, kOptions, kFlags);
  EXPECT_THROW(cli.get_int("--step"), UsageError);
  EXPECT_THROW(cli.get("--data"), UsageError);
  EXPECT_THROW(CliArgs({"--step", "-1"}, kOptions, kFlags).get_int("--step", 0), UsageError);
}

}  // namespace
}  // namespace toolgrpo::app
