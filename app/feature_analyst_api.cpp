#include "app/daemon_context.h"

namespace vigil::app {

// Not built yet: the daemon runs without this feature.
Result<std::unique_ptr<DaemonService>> start_analyst_api(DaemonContext&) { return std::unique_ptr<DaemonService>(); }

}  // namespace vigil::app
