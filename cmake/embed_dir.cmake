# Embeds every *.yml under DIR into OUTPUT as an array of {relative path, content} records:
#   struct EmbeddedFile { const char* path; const char* content; };
#   extern const EmbeddedFile SYMBOL[]; extern const unsigned SYMBOL_count;
file(GLOB_RECURSE FILES RELATIVE ${DIR} ${DIR}/*.yml)
list(SORT FILES)
file(WRITE ${OUTPUT} "// Generated from ${DIR}; do not edit.\n#include \"app/embedded_files.h\"\nnamespace vigil::app {\n")
set(INDEX 0)
foreach(F ${FILES})
  file(READ ${DIR}/${F} CONTENT HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${CONTENT}")
  # unsigned char: bytes >= 0x80 (UTF-8 text) would be narrowing conversions for a char array.
  file(APPEND ${OUTPUT} "static const unsigned char kFile${INDEX}[] = {${BYTES} 0x00};\n")
  math(EXPR INDEX "${INDEX} + 1")
endforeach()
file(APPEND ${OUTPUT} "extern const EmbeddedFile ${SYMBOL}[];\nconst EmbeddedFile ${SYMBOL}[] = {\n")
set(INDEX 0)
foreach(F ${FILES})
  file(APPEND ${OUTPUT} "  {\"${F}\", reinterpret_cast<const char*>(kFile${INDEX})},\n")
  math(EXPR INDEX "${INDEX} + 1")
endforeach()
file(APPEND ${OUTPUT} "  {nullptr, nullptr}};\n}  // namespace vigil::app\n")
