# Syslog collectors (UDP, TCP, TLS), RFC 6587 stream framing, and source assignment.
vigil_test(test_collectors_framing SOURCES framing_test.cpp DEPS vigil::collectors)
vigil_test(test_collectors_syslog SOURCES syslog_test.cpp DEPS vigil::collectors)
vigil_test(test_core_source_assign SOURCES ../core/source_assign_test.cpp DEPS vigil::core)
# RELP: the frame parser, and the collector against a plain socket client.
vigil_test(test_collectors_relp SOURCES relp_test.cpp DEPS vigil::collectors)
