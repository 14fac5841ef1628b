// Fused vocabulary head; see logprob_head.hpp. With p = softmax(z), the gradient of log p[t] with respect to
// the logits z is onehot(t) - p and that of the entropy H = -sum p log p is -p (log p + H), so backward needs
// only the saved log-softmax: one exp pass, one scale pass, one scatter, then the two matrix products.
#include "model/logprob_head.hpp"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/csrc/autograd/custom_function.h>

namespace toolgrpo::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct LogprobHead : torch::autograd::Function<LogprobHead> {
  static variable_list forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor weight, at::Tensor target,
                               double temperature, bool with_entropy) {
    at::Tensor logits = at::mm(hidden, weight.t()).to(at::kFloat);  // (N, vocab)
    if (temperature != 1.0) logits.div_(temperature);
    const at::Tensor lsm = at::log_softmax(logits, 1);
    logits.reset();  // release the logits before the next (N, vocab) buffer is allocated
    variable_list out{lsm.gather(1, target.unsqueeze(1)).squeeze(1)};
    if (with_entropy) out.push_back(-(lsm.exp() * lsm).sum(1));
    ctx->save_for_backward({hidden, weight, target});
    ctx->saved_data["lsm"] = lsm;  // an intermediate, not an input or output: kept in saved_data
    ctx->saved_data["temperature"] = temperature;
    ctx->set_materialize_grads(false);  // an unused entropy output costs nothing in backward
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &target = saved[2];
    const at::Tensor lsm = ctx->saved_data["lsm"].toTensor();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const at::Tensor g_logp = grads[0];
    const at::Tensor g_ent = grads.size() > 1 ? grads[1] : at::Tensor();
    if (!g_logp.defined() && !g_ent.defined())
      return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};

    at::Tensor dz = lsm.exp();  // p, turned into dL/dz in place
    if (g_ent.defined()) {
      const at::Tensor entropy = -(dz * lsm).sum(1, /*keepdim=*/true);
      at::Tensor coef = (lsm + entropy) * g_ent.unsqueeze(1);
      if (g_logp.defined()) coef.add_(g_logp.unsqueeze(1));
      dz.mul_(coef).neg_();
    } else {
      dz.mul_(g_logp.neg().unsqueeze(1));
    }
    if (g_logp.defined()) dz.scatter_add_(1, target.unsqueeze(1), g_logp.unsqueeze(1));
    if (temperature != 1.0) dz.div_(temperature);
    const at::Tensor dzw = dz.to(weight.scalar_type());
    const at::Tensor d_hidden = ctx->needs_input_grad(0) ? at::mm(dzw, weight) : at::Tensor();
    const at::Tensor d_weight = ctx->needs_input_grad(1) ? at::mm(dzw.t(), hidden) : at::Tensor();
    return {d_hidden, d_weight, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

HeadLogprobs head_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& target,
                           double temperature, bool with_entropy) {
  // Mixed precision: bf16 layers under an fp32 head; the cast is differentiable, so bf16 gradients flow back.
  const at::Tensor h =
      hidden.scalar_type() == weight.scalar_type() ? hidden : hidden.to(weight.scalar_type());
  const variable_list out = LogprobHead::apply(h, weight, target, temperature, with_entropy);
  return {out[0], with_entropy ? out[1] : at::Tensor()};
}

}  // namespace toolgrpo::model
