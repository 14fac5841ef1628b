// Writes libFuzzer seed inputs from the reference reward fixtures: one file per (file, kind), in the
// fuzz_reward input layout ([flags][step] output '\0' ground_truth). Usage: make_seeds FIXTURE_DIR OUT_DIR
#include <fstream>
#include <iostream>
#include <set>
#include <string>

#include "reward/config.hpp"
#include "reward/json.hpp"

using namespace toolgrpo::reward;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seeds FIXTURE_DIR OUT_DIR\n";
    return 2;
  }
  const std::string dir = argv[1], out = argv[2];
  int written = 0;
  for (const char* name : {"default", "withlength", "schedulelength", "correctmax1", "max1step30max3",
                           "schedulereward", "refinedreward", "intermediatereward", "coarsereward"}) {
    const std::string path = dir + "/" + name + ".jsonl";
    std::ifstream in(path);
    if (!in) {
      std::cerr << "make_seeds: cannot open " << path << "\n";
      return 1;
    }
    const RewardConfig c = reward_config_from_name(name);
    const unsigned char flags = static_cast<unsigned char>(
        c.with_length | c.schedule_length << 1 | c.correct_max1 << 2 | c.max1_step30_max3 << 3 |
        c.schedule_reward << 4 | c.refined << 5 | c.intermediate << 6 | c.coarse << 7);
    std::set<std::string> kinds;
    std::string line;
    JsonParser parser;
    while (std::getline(in, line)) {
      Arena arena;
      const Value* row = parser.parse(line, arena);
      if (row == nullptr) continue;
      const std::string kind(row->find("kind")->string());
      if (!kinds.insert(kind).second) continue;
      const std::string output(row->find("output")->string()), gt(row->find("ground_truth")->string());
      if (output.size() + gt.size() > 6000) continue;  // keep seeds under libFuzzer's default max_len
      std::ofstream f(out + "/" + name + "_" + kind, std::ios::binary);
      f.put(static_cast<char>(flags));
      f.put(static_cast<char>(row->find("step")->u.i / 2 & 0xFF));
      f << output << '\0' << gt;
      ++written;
    }
  }
  std::cout << "make_seeds: wrote " << written << " seeds to " << out << "\n";
  return 0;
}
