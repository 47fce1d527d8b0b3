#include "routing/model_registry.h"

#include <utility>

namespace manifold {

Status ModelRegistry::add(std::unique_ptr<ServedModel> model) {
  std::vector<std::string> names = {model->id()};
  names.insert(names.end(), model->options().aliases.begin(), model->options().aliases.end());
  for (const std::string& name : names) {
    if (name.empty()) return invalidArgument("model names must not be empty");
    if (by_name_.count(name) != 0) {
      return invalidArgument("the model name `" + name + "` is used twice");
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      if (names[i] == names[j])
        return invalidArgument("the model name `" + names[i] + "` is used twice");
    }
  }
  for (const std::string& name : names) by_name_.emplace(name, model.get());
  models_.push_back(std::move(model));
  return Status::ok();
}

ServedModel* ModelRegistry::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Result<ServedModel*> ModelRegistry::resolve(std::string_view name) const {
  ServedModel* model = find(name);
  if (model == nullptr) {
    return notFound("The model `" + std::string(name) + "` does not exist.");
  }
  return model;
}

bool ModelRegistry::allReady() const {
  for (const auto& model : models_) {
    if (model->state() != ServedModel::State::kReady) return false;
  }
  return true;
}

void ModelRegistry::abortAll() {
  for (auto& model : models_) model->abortAll();
}

void ModelRegistry::shutdown() {
  for (auto& model : models_) model->shutdown();
}

}  // namespace manifold
