// The served models by name: every primary name and alias maps to exactly one ServedModel.
// Built once before the server starts and read-only afterwards, so lookups take no lock.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "routing/served_model.h"

namespace manifold {

class ModelRegistry {
 public:
  // Fails when the id or an alias is already taken.
  [[nodiscard]] Status add(std::unique_ptr<ServedModel> model);

  // The model served under `name` (id or alias), or null.
  [[nodiscard]] ServedModel* find(std::string_view name) const;
  // NotFound in OpenAI's wording when no model has that name.
  [[nodiscard]] Result<ServedModel*> resolve(std::string_view name) const;

  [[nodiscard]] const std::vector<std::unique_ptr<ServedModel>>& models() const { return models_; }
  // True when every local model has loaded.
  [[nodiscard]] bool allReady() const;
  // Aborts every request in flight on the local engines (a drain that timed out).
  void abortAll();
  // Destroys every engine (they finish their loops). REQUIRES: no request in flight.
  void shutdown();

 private:
  std::vector<std::unique_ptr<ServedModel>> models_;
  std::map<std::string, ServedModel*, std::less<>> by_name_;
};

}  // namespace manifold
