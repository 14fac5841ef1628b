// CliArgs on hand-written argument lists: options with separate and inline values, flags, positionals, the
// UsageErrors for unknown options, stray arguments, missing values and bad numbers, and --help's text.
#include <gtest/gtest.h>

#include "app/cli/cli_args.hpp"

namespace toolgrpo::app {
namespace {

const CommandSpec kSpec = {
    "demo",
    "demo --data FILE [--step N] [--dry-run] [WORD ...]",
    "Does nothing with the data, to test the parser. This paragraph is long enough to be wrapped onto a second "
    "line when the help text is printed at one hundred columns.",
    {{"--data", "FILE", "the input rows"}, {"--step", "N", "a step number"}, {"--dry-run", "", "change nothing"}},
    {{"WORD", "", "any words"}},
    "A closing note."};

std::string usage_message(const std::vector<std::string>& args, const CommandSpec& spec = kSpec) {
  try {
    CliArgs cli(args, spec);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(CliArgs, OptionsFlagsAndPositionals) {
  const CliArgs cli({"in.jsonl", "--data", "a b", "--step=7", "--dry-run", "extra"}, kSpec);
  EXPECT_EQ(cli.get("--data"), "a b");
  EXPECT_EQ(cli.get_int("--step"), 7);
  EXPECT_TRUE(cli.has("--dry-run"));
  EXPECT_EQ(cli.positional(), (std::vector<std::string>{"in.jsonl", "extra"}));
  EXPECT_FALSE(CliArgs({}, kSpec).has("--data"));
  EXPECT_EQ(CliArgs({}, kSpec).get_or("--data", "x"), "x");
  // A value may start with a dash, and "--data=" gives an empty value.
  EXPECT_EQ(CliArgs({"--step", "-3"}, kSpec).get_int("--step"), -3);
  EXPECT_EQ(CliArgs({"--data="}, kSpec).get("--data"), "");
}

TEST(CliArgs, ErrorsNameTheOption) {
  const std::string unknown = usage_message({"--bogus"});
  EXPECT_NE(unknown.find("demo: unknown option --bogus"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("--data FILE, --step N, --dry-run"), std::string::npos) << unknown;
  EXPECT_NE(usage_message({"--data"}).find("--data needs a value (FILE)"), std::string::npos);
  EXPECT_NE(usage_message({"--dry-run=1"}).find("--dry-run takes no value"), std::string::npos);
  const CliArgs cli({"--step", "nine"}, kSpec);
  EXPECT_THROW(cli.get_int("--step"), UsageError);
  try {
    cli.get("--data");
    ADD_FAILURE() << "a missing option must throw";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("option --data FILE is required"), std::string::npos) << e.what();
  }
  EXPECT_THROW(CliArgs({"--step", "-1"}, kSpec).get_int("--step", 0), UsageError);
  EXPECT_THROW(CliArgs({"--step", "1.5x"}, kSpec).get_double("--step"), UsageError);
  // A command without positional arguments rejects them.
  CommandSpec no_args = kSpec;
  no_args.arguments.clear();
  EXPECT_NE(usage_message({"stray"}, no_args).find("unexpected argument 'stray'"), std::string::npos);
}

TEST(CliArgs, HelpIsItsOwnException) {
  for (const char* flag : {"--help", "-h"}) {
    try {
      CliArgs cli({"--data", "x", flag}, kSpec);
      ADD_FAILURE() << flag << " must throw HelpRequested";
    } catch (const HelpRequested& h) {
      const std::string text = h.text();
      EXPECT_EQ(text.rfind("usage: toolgrpo demo --data FILE", 0), 0u) << text;
      EXPECT_NE(text.find("Does nothing with the data"), std::string::npos) << text;
      EXPECT_NE(text.find("\narguments:\n  WORD"), std::string::npos) << text;
      EXPECT_NE(text.find("\noptions:\n"), std::string::npos) << text;
      EXPECT_NE(text.find("  --data FILE"), std::string::npos) << text;
      EXPECT_NE(text.find("the input rows"), std::string::npos) << text;
      EXPECT_NE(text.find("  --dry-run "), std::string::npos) << text;
      EXPECT_NE(text.find("-h, --help"), std::string::npos) << text;
      EXPECT_NE(text.find("A closing note."), std::string::npos) << text;
      std::size_t start = 0;
      while (start < text.size()) {
        const std::size_t end = text.find('\n', start);
        EXPECT_LE(end - start, 100u) << "line too long: " << text.substr(start, end - start);
        start = end + 1;
      }
    }
  }
  // HelpRequested is not a UsageError: main exits 0 for it.
  EXPECT_THROW(CliArgs({"-h"}, kSpec), HelpRequested);
  // The value of an option is not a help request.
  EXPECT_EQ(CliArgs({"--data=--help"}, kSpec).get("--data"), "--help");
}

}  // namespace
}  // namespace toolgrpo::app
