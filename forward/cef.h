#pragma once
// CEF over syslog: how an alert becomes one RFC 5424 message carrying a CEF record, framed for
// TCP by octet counting (RFC 6587 3.4.1). The field mapping is documented in docs/forwarding.md.
#include <string>
#include <string_view>

#include "core/alert.h"

namespace vigil::forward {

// CEF severity 0..10 of a Sigma level: informational 1, low 3, medium 5, high 8, critical 10.
int cef_severity(AlertLevel level);

// "CEF:0|vigil|vigil|<version>|<rule id>|<rule title>|<severity>|<extension>"; header fields
// escape '\' and '|', extension values escape '\', '=' and turn CR/LF into \r \n.
std::string format_cef(const Alert& alert);

// "<PRI>1 <created RFC 3339> <hostname> vigil - alert - <CEF>": facility local4 (20), syslog
// severity from the level (critical 2, high 3, medium 4, low 5, informational 6).
std::string format_rfc5424(const Alert& alert, std::string_view hostname);

// "<length> <message>" (RFC 6587 octet counting).
void append_octet_counted(std::string& out, std::string_view message);

// CEF escaping, exposed for tests.
std::string cef_escape_header(std::string_view text);
std::string cef_escape_extension(std::string_view text);

}  // namespace vigil::forward
