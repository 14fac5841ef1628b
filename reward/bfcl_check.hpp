// BFCL's AST check (v3, non-live Python categories) of a model's ToolRL-format calls against a question's
// function documents and possible answers, each expected call against the function BFCL's checker picks for
// the category: names equal, required parameters present, none unknown, types as the schema says (an int
// passes for a float), strings compared after BFCL's normalisation, lists and dicts element by element. No
// expected call (irrelevance): correct when the output makes no call. Used by `toolgrpo eval --format bfcl`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "reward/arena.hpp"
#include "reward/call_match.hpp"
#include "reward/json.hpp"

namespace toolgrpo::reward {

// Why an output fails the check, most basic reason first.
enum class BfclError {
  None,            // valid
  MissingCall,     // calls were expected, the output makes none
  UnexpectedCall,  // no call was expected (irrelevance), the output makes one
  BrokenCall,      // the call block is unclosed, not JSON, not call objects, or "parameters" is not an object
  WrongCount,      // another number of calls than expected
  WrongName,       // an expected function is called by no output call
  MissingParam,    // a required parameter, or one whose acceptable values do not include "", is absent
  UnknownParam,    // a parameter the schema or the possible answer does not have
  WrongType,       // a value of another type than the schema's (nested one level for arrays)
  WrongValue,      // a value not among the acceptable ones
};
const char* bfcl_error_name(BfclError e);  // "none", "missing_call", ..., "wrong_value"

// BFCL's string normalisation: drops ' ' ',' '.' '/' '-' '_' '*' '^', lower-cases (ASCII, Latin-1, Latin
// Extended-A, Greek and Cyrillic capitals) and turns "'" into '"'.
std::string bfcl_standardize(std::string_view s);

// BFCL's checkers by test category. Simple (simple, java, javascript, live_simple, irrelevance, ...): one
// output call against the first possible answer and the question's first function, whatever name the answer
// gives it. Multiple (a category naming "multiple" but not "parallel"): as many output calls as possible
// answers, the first output call against the first answer and the function of that answer's name. Parallel
// (a category naming "parallel"): each possible answer, with the function of its name, matched by one unused
// output call in any order.
enum class BfclCategory { Simple, Multiple, Parallel };
const char* bfcl_category_name(BfclCategory c);  // "simple", "multiple", "parallel"

// The category of a BFCL id "<category>_<index>" (index: digits and '-', as in "live_simple_3-1-0"), where
// the category is one of BFCL's single-turn AST categories (simple, multiple, parallel, parallel_multiple,
// java, javascript, irrelevance, relevance, each optionally "live_"); nullopt otherwise.
std::optional<BfclCategory> bfcl_category_from_id(std::string_view id);

// Bad question or answer data; in_answers tells which file it came from.
struct BfclDataError : std::invalid_argument {
  BfclDataError(bool answers, const std::string& what) : std::invalid_argument(what), in_answers(answers) {}
  bool in_answers;
};

// One question's functions and possible answers, parsed and validated once.
class BfclCase {
 public:
  // One possible answer BFCL checks, with the function document it is checked against (nullptr: none).
  struct Expected {
    const Member* answer;   // {function name: {param: [acceptable, ...]}}
    const Value* function;  // an element of functions(), or nullptr
  };

  // functions_json: the question's "function" list [{name, description, parameters: {type, properties,
  // required}}]; truth_json: the answer row's "ground_truth" list [{function: {param: [acceptable, ...]}}],
  // or empty (or "[]") when no call is expected; id: the question's id, whose BFCL category picks the checker
  // (bfcl_category_from_id); for other ids the shape does: several expected calls Parallel, else one function
  // Simple, else Multiple. Throws BfclDataError saying what is wrong with data that is malformed. Quirks of
  // the published data that BFCL evaluates without complaint are kept and reported in warnings(): an answer
  // naming a function the question does not offer (Simple: checked against the question's function anyway;
  // Multiple and Parallel: BFCL has no function document for it, so no output passes the row), and an answer
  // parameter absent from the schema without "" among its values (no output passes the row).
  BfclCase(std::string_view functions_json, std::string_view truth_json, std::string_view id = {});
  BfclCase(BfclCase&&) = default;
  BfclCase& operator=(BfclCase&&) = default;

  bool expects_call() const { return truth_ != nullptr && truth_->size > 0; }
  const Value& functions() const { return *functions_; }
  const Value* truth() const { return truth_; }  // nullptr when no call is expected
  BfclCategory category() const { return category_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The possible answers BFCL checks (Simple and Multiple: the first one only), in the answer's order.
  const std::vector<Expected>& expected() const { return expected_; }
  // How many output calls BFCL asks for: 1 (Simple) or as many as possible answers; 0 without any.
  std::size_t calls_expected() const;
  // A ToolRL text with one representative call per expected call that BFCL checks (named as the function it
  // is checked against; each parameter of the schema with its first acceptable value other than "", or ""
  // for a required one with no other), or a plain response when no call is expected: the ground truth the
  // format reward reads.
  std::string toolrl_text() const;

 private:
  Arena arena_{4096};
  const Value* functions_ = nullptr;
  const Value* truth_ = nullptr;
  BfclCategory category_ = BfclCategory::Simple;
  std::vector<Expected> expected_;  // in the answer's order: Simple and Multiple the first one only
  std::vector<std::string> warnings_;
};

struct BfclResult {
  bool valid = false;
  BfclError error = BfclError::None;
  std::string detail;  // what failed, e.g. "call 1 (get_weather): missing required parameter \"city\""
  CallsStatus parse = CallsStatus::None;
  bool expects_call = false;
};

// Checks the calls of a ToolRL-format output (call_match.hpp's parsing) against the case.
BfclResult bfcl_check(std::string_view output, const BfclCase& c);

struct BfclSummary {
  int64_t n = 0;
  double accuracy = 0;         // share of valid outputs
  double format_accuracy = 0;  // share with the ToolRL format right (given per record)
  int64_t call_rows = 0, irrelevance_rows = 0;
  double call_rows_accuracy = 0, irrelevance_accuracy = 0;
  std::map<std::string, int64_t> errors;  // bfcl_error_name -> count (valid outputs under "none")
};

BfclSummary bfcl_summarize(const std::vector<BfclResult>& results, const std::vector<bool>& format_ok);

}  // namespace toolgrpo::reward
