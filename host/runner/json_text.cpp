#include "json_text.hpp"

namespace rtscope::runner {

std::string json_text(const Json& doc) {
  return doc.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

}  // namespace rtscope::runner
