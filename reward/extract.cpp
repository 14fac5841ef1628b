// Chat-template extraction; see extract.hpp.
#include "reward/extract.hpp"

#include <stdexcept>

#include "reward/pystr.hpp"

namespace toolgrpo::reward {

ChatTemplate chat_template_from_experiment(std::string_view name) {
  if (name.find("llama") != std::string_view::npos) return ChatTemplate::Llama;
  if (name.find("qwen") != std::string_view::npos) return ChatTemplate::Qwen;
  throw std::invalid_argument("unknown model name '" + std::string(name) +
                              "': the experiment name must contain \"llama\" or \"qwen\" (case-sensitive), as the "
                              "reference reward requires");
}

std::string_view extract_prediction(std::string_view solution, ChatTemplate tmpl) {
  const std::string_view marker =
      tmpl == ChatTemplate::Qwen ? "<|im_start|>assistant" : "<|start_header_id|>assistant<|end_header_id|>";
  const std::string_view end = tmpl == ChatTemplate::Qwen ? "<|im_end|>" : "<|eot_id|>";
  const std::size_t m = solution.rfind(marker);
  std::string_view rest = m == std::string_view::npos ? solution : solution.substr(m + marker.size());
  const std::size_t e = rest.find(end);
  if (e != std::string_view::npos) rest = rest.substr(0, e);
  return py_strip(rest);
}

}  // namespace toolgrpo::reward
