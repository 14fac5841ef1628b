// The chat-template step of the reference compute_score: pick the template from the experiment name, then take
// the text after the last assistant marker up to the first end marker, Python-stripped.
#pragma once

#include <string>
#include <string_view>

namespace toolgrpo::reward {

enum class ChatTemplate { Qwen, Llama };

// The reference's EXPERIMENT_NAME rule: case-sensitive substring "llama" first, then "qwen". Any other name
// throws std::invalid_argument (the reference raises NotImplementedError).
ChatTemplate chat_template_from_experiment(std::string_view experiment_name);

// solution.split(marker)[-1].split(end)[0].strip() for the template's markers.
std::string_view extract_prediction(std::string_view solution, ChatTemplate tmpl);

}  // namespace toolgrpo::reward
