# File tail, stdin source and HTTP ingest (real files, pipes and a real HTTP server on loopback).
vigil_test(test_collectors_file_http
  SOURCES file_tail_test.cpp http_ingest_test.cpp
  DEPS vigil::collectors ZLIB::ZLIB)
