// Placeholder translation unit: the alert store lands with the streaming-daemon issue.
namespace vigil::storage { int library_version() { return 1; } }
