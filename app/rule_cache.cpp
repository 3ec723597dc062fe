#include "app/rule_cache.h"

#include <memory>
#include <mutex>
#include <optional>

namespace vigil::app {

namespace {

struct ProcessCache {
  std::mutex mu;
  std::optional<std::string> directory;  // unset: the default directory
  bool disabled = false;
  std::unique_ptr<rules::DatabaseCache> cache;
};

ProcessCache& process_cache() {
  static ProcessCache c;
  return c;
}

}  // namespace

void use_rule_cache_directory(std::string directory) {
  ProcessCache& c = process_cache();
  std::lock_guard lock(c.mu);
  c.directory = std::move(directory);
  c.cache.reset();
}

void disable_rule_cache() {
  ProcessCache& c = process_cache();
  std::lock_guard lock(c.mu);
  c.disabled = true;
  c.cache.reset();
}

rules::DatabaseCache* rule_cache() {
  ProcessCache& c = process_cache();
  std::lock_guard lock(c.mu);
  if (c.disabled) return nullptr;
  if (!c.cache) {
    std::string dir = c.directory ? *c.directory : rules::DatabaseCache::default_directory();
    if (dir.empty()) return nullptr;
    c.cache = std::make_unique<rules::DatabaseCache>(std::move(dir));
  }
  return c.cache->usable() ? c.cache.get() : nullptr;
}

rules::CompileOptions rule_compile_options() {
  rules::CompileOptions o;
  o.cache = rule_cache();
  return o;
}

}  // namespace vigil::app
