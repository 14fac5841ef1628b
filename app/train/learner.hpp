// The training side shared by GRPO and SFT: sequences (prompt + trained part) packed into right-padded
// micro-batches under a token budget, and one optimizer update over the training ranks (gradients summed as one
// flat bucket, clipped by their global norm, AdamW). Losses carry the whole batch's normaliser, so the sum
// over micro-batches and ranks is the batch loss: np ranks update exactly as one rank would.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "app/train/sharded_optimizer.hpp"
#include "model/decoder.hpp"
#include "model/optimizer.hpp"
#include "parallel/comm.hpp"
#include "parallel/tensor_collectives.hpp"

namespace toolgrpo::app {

// One sequence: a prompt, then the part whose tokens are trained on (a response, an answer).
struct SeqRef {
  const std::vector<int64_t>* prompt = nullptr;
  const std::vector<int64_t>* target = nullptr;
  bool trained = true;  // false: the sequence is in the batch but none of its tokens count (over-long filter)
  int64_t length() const { return static_cast<int64_t>(prompt->size() + target->size()); }
};

struct SequenceBatch {
  at::Tensor ids;          // (B, L) int64, right-padded with 0
  at::Tensor attention;    // (B, L) int64, 1 on real tokens
  at::Tensor target_mask;  // (B, L-1) float32, 1 where position t predicts a trained target token
  at::Tensor target_any;   // (B, L-1) float32, 1 where position t predicts any target token (trained or not)
  // With prefix sharing: the same sequences with each shared prompt once (model::token_logprobs_packed gives
  // their values in the layout above); undefined otherwise.
  model::PrefixPacked packed;
};

// Log-probs (and entropy) of a micro-batch's target tokens in the (B, L-1) layout, 0 elsewhere: from the
// packed rows when the batch has them, else from the padded rows with the head at `only_at` (target_mask for
// the trained tokens, target_any for every response token; undefined: every position, values outside the
// targets left in place).
model::TokenLogprobs batch_logprobs(const model::ModelConfig& cfg, const model::DecoderWeights& w,
                                    const SequenceBatch& b, model::LogprobOptions o,
                                    const at::Tensor& only_at);

SequenceBatch sequences_pack(const std::vector<SeqRef>& seqs, at::Device device = at::kCPU);

// Per-target-token values of each sequence (values[i] has target->size() entries) laid out like target_mask.
at::Tensor target_values_pack(const std::vector<SeqRef>& seqs, const std::vector<const std::vector<float>*>& values,
                              at::Device device = at::kCPU);

// Per-target-token values of each sequence read back from a (B, L-1) tensor (any device) laid out like target_mask.
std::vector<std::vector<float>> target_values_unpack(const std::vector<SeqRef>& seqs, const at::Tensor& packed);

// Consecutive groups of `lengths` whose padded size (count x longest) stays within `budget` tokens; a sequence
// longer than the budget goes alone.
std::vector<std::vector<std::size_t>> micro_batches(const std::vector<int64_t>& lengths, int64_t budget);

// The sequences among `items` grouped by prompt (the same prompt vector), in order of first appearance: each
// unit shares one prompt pass when prefix sharing is on.
std::vector<std::vector<std::size_t>> prefix_units(const std::vector<SeqRef>& seqs,
                                                   const std::vector<std::size_t>& items);

// Tokens of a unit's packed row: its prompt once plus every target.
int64_t unit_tokens(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& unit);

// The sequences among `items` (indices into `seqs`) that rank `rank` of `ranks` handles when they are split
// by tokens (parallel::balance_by_tokens, in the order of `items`), longest first. With share_prefix, whole
// prefix units are balanced (a unit costs its packed tokens), so a group's samples stay on one rank.
std::vector<std::size_t> rank_share(const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& items,
                                    int ranks, int rank, bool share_prefix = false);

// Runs `fn` on consecutive micro-batches of the sequences `which` (indices into `seqs`) under the token
// budget: `idx` are the indices of the micro-batch's sequences, `batch` their packed tensors on `device`.
// With share_prefix, sequences with the same prompt go into one packed row (batch.packed), the prompt counted
// once against the budget; a unit over the budget is split into rows that each fit (at least one target per
// row).
void for_each_micro_batch(
    const std::vector<SeqRef>& seqs, const std::vector<std::size_t>& which, int64_t budget, at::Device device,
    const std::function<void(const std::vector<std::size_t>& idx, const std::vector<SeqRef>& part,
                             const SequenceBatch& batch)>& fn,
    bool share_prefix = false);

class Learner {
 public:
  // `comm`: the training ranks, over which gradients are summed (it must outlive the learner). With
  // `shard_optimizer`, the AdamW moments are split over them (ShardedAdamW) instead of held whole by each.
  Learner(std::vector<at::Tensor> params, double weight_decay, const parallel::Comm& comm,
          bool shard_optimizer = false);
  ~Learner();
  void zero_grad();
  // Sums the gradients over the training ranks (one flat bucket, or reduce-scattered into each rank's shard:
  // MPI on CPU, NCCL on CUDA), clips to max_norm (0 = off), applies AdamW with `lr`. Returns the global
  // gradient norm before clipping.
  double update(double lr, double max_norm);
  const std::vector<at::Tensor>& params() const { return params_; }
  bool sharded() const { return sharded_ != nullptr; }
  int64_t optimizer_steps() const;
  void set_optimizer_steps(int64_t s);
  // Each parameter's AdamW moments in full shape: the optimizer's own tensors when unsharded; when sharded,
  // the ones moments_gather() collected on training rank 0 (empty before it, after moments_release() and
  // elsewhere).
  std::vector<at::Tensor> exp_avg() const;
  std::vector<at::Tensor> exp_avg_sq() const;
  // Sharded: the training ranks, and this rank's share of a checkpoint (ShardedAdamW::save_pieces).
  const parallel::Comm* shard_comm() const;
  std::vector<ShardedAdamW::SavePiece> save_pieces() const;
  void moments_gather();   // collective over the training ranks when sharded; nothing otherwise
  void moments_release();  // drops the gathered copies
  // Full-shape moments (a checkpoint's): copied into the optimizer, or each rank's shard of them.
  void moments_set(const std::vector<at::Tensor>& exp_avg, const std::vector<at::Tensor>& exp_avg_sq);
  // Sharded: this rank's moment shards as ShardedAdamW::layout lays them out (a checkpoint read by shards).
  void moments_set_shards(const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq);

 private:
  std::vector<at::Tensor> params_;
  model::AdamW opt_;
  parallel::GradientReducer reducer_;
  std::unique_ptr<ShardedAdamW> sharded_;
  std::vector<at::Tensor> gathered_m_, gathered_v_;
};

}  // namespace toolgrpo::app
