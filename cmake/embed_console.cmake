# Embeds the browser console's static files (every *.html, *.css, *.js, *.svg, *.png, *.ico,
# *.json, *.txt under DIR) into OUTPUT as a table of {relative path, bytes, size} records (see
# app/console_routes.h), so the daemon serves the console with no files installed beside it.
# Other files (the folder's README) are left out. Binary-safe: sizes are explicit.
set(PATTERNS)
foreach(EXT html css js svg png ico json txt)
  list(APPEND PATTERNS ${DIR}/*.${EXT})
endforeach()
file(GLOB_RECURSE FILES RELATIVE ${DIR} ${PATTERNS})
list(SORT FILES)
set(TEXT "// Generated from ${DIR} by cmake/embed_console.cmake; do not edit.\n#include \"app/console_routes.h\"\nnamespace vigil::app {\n")
set(INDEX 0)
foreach(F ${FILES})
  file(READ ${DIR}/${F} CONTENT HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${CONTENT}")
  # One extra 0 byte so an empty file is still a valid array; `size` excludes it.
  string(APPEND TEXT "static const unsigned char kConsole${INDEX}[] = {${BYTES} 0x00};\n")
  math(EXPR INDEX "${INDEX} + 1")
endforeach()
string(APPEND TEXT "extern const ConsoleFile kConsoleFiles[];\nconst ConsoleFile kConsoleFiles[] = {\n")
set(INDEX 0)
foreach(F ${FILES})
  file(SIZE ${DIR}/${F} SIZE)
  string(APPEND TEXT "  {\"${F}\", kConsole${INDEX}, ${SIZE}u},\n")
  math(EXPR INDEX "${INDEX} + 1")
endforeach()
string(APPEND TEXT "  {nullptr, nullptr, 0u}};\n}  // namespace vigil::app\n")
file(WRITE ${OUTPUT} "${TEXT}")
