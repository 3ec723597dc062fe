// Placeholder translation unit: collectors land with the streaming-daemon issue.
namespace vigil::collectors { int library_version() { return 1; } }
