// Sigma condition expressions against a fixed set of search identifiers (names with '_', a
// leading '_' that `them` excludes, digits), then simplified as the loader does.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "rules/condition_parser.h"
#include "rules/value_modifiers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vigil::rules;
  static const std::vector<SearchIdentifier> searches = [] {
    std::vector<SearchIdentifier> s;
    const char* names[] = {"selection", "selection_1", "selection_img", "filter", "filter_main_x",
                           "_private", "keywords", "1", "them_too"};
    std::uint32_t i = 0;
    for (const char* name : names) s.push_back(SearchIdentifier{name, make_pred_node(i++)});
    return s;
  }();
  auto tree = parse_condition(std::string_view(reinterpret_cast<const char*>(data), size), searches);
  if (tree) (void)simplify(std::move(*tree));
  return 0;
}
