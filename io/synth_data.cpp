// The synthetic tool-calling task; see synth_data.hpp.
#include "io/synth_data.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace toolgrpo::io {
namespace {

// A counter-free generator with a fixed output on every platform; below() is modulo-reduced (the bias at
// these sizes is below 1e-15).
class Rng {
 public:
  explicit Rng(uint64_t seed) : x_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (x_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  uint64_t x_;
};

enum class Kind { Str, Int, Enum };

struct Param {
  std::string name;
  Kind kind;
  std::vector<std::string> values;  // Str: the pool; Enum: the allowed values
  std::vector<std::string> fresh;   // Str: the pool of the seen-tools held-out split (never in training)
  int lo = 0, hi = 0;               // Int range
  std::string def;                  // default value (its text); empty: required
};

struct Noun {
  std::string word;
  std::vector<Param> params;
};

const std::vector<std::string> kCities = {"Paris", "Rome", "Tokyo", "Lima", "Oslo", "Cairo", "Delhi", "Quito"};
const std::vector<std::string> kPeople = {"Alice", "Bruno", "Chen", "Dana", "Emil", "Farah"};
const std::vector<std::string> kTitles = {"Blue Moon", "Night Train", "Red Sky", "Old Town", "Fast Lane"};
const std::vector<std::string> kTopics = {"sports", "music", "science", "travel", "food", "art"};
const std::vector<std::string> kDishes = {"pasta", "curry", "soup", "salad", "tacos", "ramen"};
const std::vector<std::string> kSymbols = {"AAPL", "IBM", "SONY", "TSLA", "NOK", "SAP"};
const std::vector<std::string> kPlaces = {"Luigi", "Sakura", "El Toro", "Le Chat", "Bombay"};
const std::vector<std::string> kStreets = {"Main St", "Oak Ave", "Elm Rd", "Park Ln"};
// String values only the seen-tools held-out split uses: new values for the training tools' parameters.
const std::vector<std::string> kNewCities = {"Berlin", "Madrid", "Sydney", "Lagos", "Dublin"};
const std::vector<std::string> kNewPeople = {"Gita", "Hugo", "Ines", "Jonas"};
const std::vector<std::string> kNewTitles = {"Green Door", "Last Call", "Cold Star"};
const std::vector<std::string> kNewTopics = {"history", "health", "games", "fashion"};
const std::vector<std::string> kNewDishes = {"risotto", "stew", "noodles", "pizza"};
const std::vector<std::string> kNewSymbols = {"MSFT", "INTC", "ORCL", "ADBE"};
const std::vector<std::string> kNewPlaces = {"Da Mario", "Casa Sol", "Golden Wok"};
const std::vector<std::string> kNewStreets = {"Hill Rd", "Lake Dr", "Bay St"};

Param str(const std::string& name, const std::vector<std::string>& pool, const std::vector<std::string>& fresh) {
  return {name, Kind::Str, pool, fresh, 0, 0, ""};
}
Param num(const std::string& name, int lo, int hi, const std::string& def = "") {
  return {name, Kind::Int, {}, {}, lo, hi, def};
}
Param choice(const std::string& name, const std::vector<std::string>& values, const std::string& def = "") {
  return {name, Kind::Enum, values, {}, 0, 0, def};
}

const std::vector<Noun>& nouns() {
  static const std::vector<Noun> n = {
      {"weather", {str("city", kCities, kNewCities), choice("unit", {"c", "f"}, "c")}},
      {"hotel", {str("city", kCities, kNewCities), num("nights", 1, 9, "1")}},
      {"flight", {str("to", kCities, kNewCities), choice("seat", {"window", "aisle"}, "window")}},
      {"table", {str("restaurant", kPlaces, kNewPlaces), num("people", 1, 8, "2")}},
      {"movie", {str("title", kTitles, kNewTitles), choice("day", {"today", "tomorrow"}, "today")}},
      {"song", {str("title", kTitles, kNewTitles), num("volume", 1, 10, "5")}},
      {"stock", {str("symbol", kSymbols, kNewSymbols)}},
      {"recipe", {str("dish", kDishes, kNewDishes), num("servings", 1, 6, "2")}},
      {"email", {str("to", kPeople, kNewPeople), str("subject", kTopics, kNewTopics)}},
      {"alarm", {num("hour", 1, 12), choice("repeat", {"once", "daily"}, "once")}},
      {"taxi", {str("address", kStreets, kNewStreets), num("seats", 1, 6, "1")}},
      {"news", {str("topic", kTopics, kNewTopics), num("count", 1, 9, "3")}},
  };
  return n;
}

const std::vector<std::string> kVerbs = {"get", "find", "book", "check", "cancel", "show", "track", "update"};

// Request frames: {v} verb, {V} capitalised verb, {n} noun, {a} the arguments ("city Paris and unit f").
const std::vector<std::string> kTrainFrames = {
    "Please {v} the {n} with {a}.",      "Can you {v} a {n} for {a}?",  "I need to {v} the {n}: {a}.",
    "{V} the {n} with {a}.",             "Could you {v} my {n} using {a}, please?",
    "Help me {v} a {n} with {a}."};
const std::vector<std::string> kHeldoutFrames = {"Would you {v} the {n} for {a}?",
                                                 "Go ahead and {v} a {n} with {a}.",
                                                 "I want you to {v} my {n}: {a}."};
// The seen-tools held-out split's frames: neither training nor the unseen-tools split uses them.
const std::vector<std::string> kSeenFrames = {"Kindly {v} the {n} with {a}.", "Is it possible to {v} a {n} for {a}?",
                                              "My request is to {v} the {n}, {a}."};
// The rl split's frames: no other split uses them.
const std::vector<std::string> kRlFrames = {"I would like you to {v} the {n} with {a}.", "Time to {v} a {n}: {a}.",
                                            "Quick one: {v} my {n} for {a}.", "Try to {v} the {n} using {a}."};
const std::vector<std::string> kTrainThen = {" Then {v} the {n} with {a}.", " Also {v} a {n} for {a}."};
const std::vector<std::string> kHeldoutThen = {" After that, {v} the {n} using {a}."};
const std::vector<std::string> kSeenThen = {" Next, {v} a {n} with {a}."};
const std::vector<std::string> kRlThen = {" And then {v} the {n} for {a}."};

struct Chat {
  std::string user, reply;
};
const std::vector<Chat> kTrainChat = {{"Thanks, that is all.", "You are welcome."},
                                      {"Hello!", "Hello! How can I help?"},
                                      {"Who are you?", "I am an assistant with tools."}};
const std::vector<Chat> kHeldoutChat = {{"Thank you so much!", "You are welcome."},
                                        {"Hi there.", "Hello! How can I help?"}};
const std::vector<Chat> kRlChat = {{"Hey, good evening.", "Hello! How can I help?"},
                                   {"Great, thanks a lot.", "You are welcome."}};
const std::vector<Chat> kSeenChat = {{"Good morning!", "Hello! How can I help?"},
                                     {"That was helpful, thanks.", "You are welcome."}};
const char* kNoTool = "Sorry, none of my tools can do that.";

struct Tool {
  std::size_t verb, noun;
  std::string name() const { return kVerbs[verb] + "_" + nouns()[noun].word; }
};

struct Call {
  Tool tool;
  std::vector<std::pair<const Param*, std::string>> args;  // mentioned parameters, in schema order
};

std::string fill(std::string frame, const Tool& t, const std::string& args) {
  const auto put = [&](const std::string& key, const std::string& value) {
    for (std::size_t p; (p = frame.find(key)) != std::string::npos;) frame.replace(p, key.size(), value);
  };
  std::string cap = kVerbs[t.verb];
  cap[0] = static_cast<char>(cap[0] - 'a' + 'A');
  put("{v}", kVerbs[t.verb]);
  put("{V}", cap);
  put("{n}", nouns()[t.noun].word);
  put("{a}", args);
  return frame;
}

std::string json_string(const std::string& s) { return nlohmann::json(s).dump(); }

// Every parameter of a tool, or none where the task has no arguments (SynthOptions::arguments).
const std::vector<Param>& params_of(const Tool& t, bool arguments) {
  static const std::vector<Param> none;
  return arguments ? nouns()[t.noun].params : none;
}

// "nights: int = 1", "unit: c|f = c", "city: str".
std::string param_text(const Param& p) {
  std::string s = p.name + ": ";
  if (p.kind == Kind::Str) s += "str";
  if (p.kind == Kind::Int) s += "int";
  if (p.kind == Kind::Enum) {
    for (std::size_t i = 0; i < p.values.size(); ++i) s += (i ? "|" : "") + p.values[i];
  }
  return p.def.empty() ? s : s + " = " + p.def;
}

// One line per tool, "- update_hotel(city: str, nights: int = 1): update a hotel".
std::string system_prompt(const std::vector<Tool>& tools, bool arguments) {
  std::string s = "Tools:\n";
  for (const Tool& t : tools) {
    s += "- " + t.name() + "(";
    const auto& ps = params_of(t, arguments);
    for (std::size_t k = 0; k < ps.size(); ++k) s += (k ? ", " : "") + param_text(ps[k]);
    s += "): " + kVerbs[t.verb] + " a " + nouns()[t.noun].word + "\n";
  }
  return s;
}

// fresh: strings from the parameter's seen-tools held-out pool; integers and enum values keep their ranges.
std::string value_draw(const Param& p, Rng& rng, bool fresh) {
  if (p.kind == Kind::Int) return std::to_string(p.lo + static_cast<int>(rng.below(p.hi - p.lo + 1)));
  if (p.kind == Kind::Enum) return rng.pick(p.values);
  return rng.pick(fresh ? p.fresh : p.values);
}

Call call_draw(const Tool& t, Rng& rng, bool fresh, bool arguments) {
  Call c{t, {}};
  for (const Param& p : params_of(t, arguments)) {
    std::string v = value_draw(p, rng, fresh);
    if (!p.def.empty() && rng.unit() < 0.5) continue;  // left at its default: not mentioned, not passed
    c.args.emplace_back(&p, std::move(v));
  }
  return c;
}

std::string args_text(const Call& c) {
  std::string s;
  for (std::size_t i = 0; i < c.args.size(); ++i) {
    if (i) s += i + 1 == c.args.size() ? " and " : ", ";
    s += c.args[i].first->name + " " + c.args[i].second;
  }
  return s.empty() ? "the defaults" : s;
}

std::string call_json(const Call& c) {
  std::string s = "{\"name\": " + json_string(c.tool.name()) + ", \"parameters\": {";
  for (std::size_t i = 0; i < c.args.size(); ++i) {
    const auto& [p, v] = c.args[i];
    s += (i ? ", " : "") + json_string(p->name) + ": " + (p->kind == Kind::Int ? v : json_string(v));
  }
  return s + "}}";
}

struct Split {
  std::vector<Tool> targets;  // tools this split's answers call
  std::vector<Tool> catalogue;  // tools its catalogues may list
  const std::vector<std::string>* frames;
  const std::vector<std::string>* then;
  const std::vector<Chat>* chat;
  bool fresh_values = false;  // string values from the pools training never uses
};

ToolRLRow row_make(const Split& sp, const SynthOptions& opt, Rng& rng, const std::string& id) {
  const double u = rng.unit();
  const bool respond = u < opt.response_share;
  const bool two = !respond && u < opt.response_share + opt.two_call_share;
  std::vector<Tool> listed;
  const auto has = [&](const Tool& t) {
    return std::any_of(listed.begin(), listed.end(),
                       [&](const Tool& o) { return o.verb == t.verb && o.noun == t.noun; });
  };
  const auto add_from = [&](const std::vector<Tool>& pool) {
    for (;;) {
      const Tool& t = rng.pick(pool);
      if (!has(t)) return listed.push_back(t), t;
    }
  };
  ToolRLRow row;
  row.id = id;
  std::string think, answer;
  if (respond && rng.unit() < 0.5) {  // small talk
    const Chat& c = rng.pick(*sp.chat);
    row.user = c.user;
    think = "chat";
    answer = "<response> " + c.reply + " </response>";
  } else if (respond) {  // a request for a tool the catalogue does not list
    const Tool wanted = rng.pick(sp.targets);
    listed.push_back(wanted);
    const std::size_t n_listed = 1 + rng.below(2);
    while (listed.size() < n_listed + 1) add_from(sp.catalogue);
    listed.erase(listed.begin());
    row.user = fill(rng.pick(*sp.frames), wanted, args_text(call_draw(wanted, rng, sp.fresh_values, opt.arguments)));
    think = "no tool";
    answer = std::string("<response> ") + kNoTool + " </response>";
  } else {
    std::vector<Call> calls;
    calls.push_back(call_draw(add_from(sp.targets), rng, sp.fresh_values, opt.arguments));
    if (two) calls.push_back(call_draw(add_from(sp.targets), rng, sp.fresh_values, opt.arguments));
    const std::size_t n_listed = calls.size() + 1;  // one tool more than the answer calls
    while (listed.size() < n_listed) add_from(sp.catalogue);
    row.user = fill(rng.pick(*sp.frames), calls[0].tool, args_text(calls[0]));
    think = "call";
    answer = "<tool_call>\n" + call_json(calls[0]) + "\n";
    if (two) {
      row.user += fill(rng.pick(*sp.then), calls[1].tool, args_text(calls[1]));
      answer += call_json(calls[1]) + "\n";
    }
    answer += "</tool_call>";
  }
  rng.shuffle(listed);
  row.system = system_prompt(listed, opt.arguments);
  row.ground_truth = "<think> " + think + " </think>\n" + answer;
  return row;
}

}  // namespace

SynthData synth_data_make(const SynthOptions& opt) {
  if (opt.train_rows < 1 || opt.heldout_rows < 1 || opt.heldout_seen_rows < 1)
    throw std::invalid_argument("synth-data: the train and both held-out row counts must be at least 1");
  if (opt.rl_rows < 0) throw std::invalid_argument("synth-data: the rl row count must be at least 0");
  if (opt.two_call_share < 0 || opt.response_share < 0 || opt.two_call_share + opt.response_share > 1)
    throw std::invalid_argument("synth-data: the two-call and response shares must be >= 0 with a sum <= 1");
  Rng rng(opt.seed);
  std::vector<Tool> all;
  for (std::size_t n = 0; n < nouns().size(); ++n)
    for (std::size_t v = 0; v < kVerbs.size(); ++v) all.push_back({v, n});
  rng.shuffle(all);
  // A fifth of the verb/noun pairs is held out; every verb and noun still occurs in training.
  const std::size_t held = all.size() / 5;
  SynthData d;
  std::vector<Tool> train_tools(all.begin() + held, all.end());
  // Fewer training tools (a task small enough to learn in seconds): the first of the shuffled pairs. Three at
  // least: a two-call row lists its two tools and one more.
  if (opt.train_tools != 0) {
    const std::string all_pairs = std::to_string(train_tools.size());
    if (opt.train_tools < 3 || opt.train_tools > static_cast<int64_t>(train_tools.size()))
      throw std::invalid_argument("synth-data: the training tool count must be 0 (all " + all_pairs +
                                  ") or from 3 to " + all_pairs + ", got " + std::to_string(opt.train_tools));
    train_tools.resize(static_cast<std::size_t>(opt.train_tools));
  }
  // Training never lists a held-out tool; held-out catalogues list any tool.
  const Split train{train_tools, train_tools, &kTrainFrames, &kTrainThen, &kTrainChat};
  const Split heldout{{all.begin(), all.begin() + held}, all, &kHeldoutFrames, &kHeldoutThen, &kHeldoutChat};
  for (const Tool& t : train.targets) d.train_tools.push_back(t.name());
  for (const Tool& t : heldout.targets) d.heldout_tools.push_back(t.name());
  std::sort(d.train_tools.begin(), d.train_tools.end());
  std::sort(d.heldout_tools.begin(), d.heldout_tools.end());
  d.train_templates = kTrainFrames;
  d.train_templates.insert(d.train_templates.end(), kTrainThen.begin(), kTrainThen.end());
  d.heldout_templates = kHeldoutFrames;
  d.heldout_templates.insert(d.heldout_templates.end(), kHeldoutThen.begin(), kHeldoutThen.end());
  for (int64_t k = 0; k < opt.train_rows; ++k)
    d.train.push_back(row_make(train, opt, rng, "train-" + std::to_string(k)));
  for (int64_t k = 0; k < opt.heldout_rows; ++k)
    d.heldout.push_back(row_make(heldout, opt, rng, "heldout-" + std::to_string(k)));
  // The seen-tools split: the training tools and catalogues, new string values, new frames. Its own generator
  // (from the same seed) leaves the other splits as they were and keeps it independent of their row counts.
  const Split seen{train_tools, train_tools, &kSeenFrames, &kSeenThen, &kSeenChat, true};
  std::set<std::string> fresh;
  for (const Noun& n : nouns())
    for (const Param& p : n.params) fresh.insert(p.fresh.begin(), p.fresh.end());
  d.heldout_seen_values.assign(fresh.begin(), fresh.end());
  d.heldout_seen_templates = kSeenFrames;
  d.heldout_seen_templates.insert(d.heldout_seen_templates.end(), kSeenThen.begin(), kSeenThen.end());
  Rng seen_rng(opt.seed ^ 0x5EE17001D5ull);
  for (int64_t k = 0; k < opt.heldout_seen_rows; ++k)
    d.heldout_seen.push_back(row_make(seen, opt, seen_rng, "seen-" + std::to_string(k)));
  // The rl split: the training tools and values, its own frames and generator (as the seen-tools split).
  const Split rl{train_tools, train_tools, &kRlFrames, &kRlThen, &kRlChat};
  d.rl_templates = kRlFrames;
  d.rl_templates.insert(d.rl_templates.end(), kRlThen.begin(), kRlThen.end());
  Rng rl_rng(opt.seed ^ 0x21C0FFEE5EEDull);
  for (int64_t k = 0; k < opt.rl_rows; ++k) d.rl.push_back(row_make(rl, opt, rl_rng, "rl-" + std::to_string(k)));
  return d;
}

std::string synth_rows_jsonl(const std::vector<ToolRLRow>& rows) {
  std::string s;
  for (const ToolRLRow& r : rows)
    s += nlohmann::ordered_json{{"id", r.id}, {"system", r.system}, {"user", r.user}, {"ground_truth", r.ground_truth}}
             .dump() +
         "\n";
  return s;
}

}  // namespace toolgrpo::io
