# Turns a text file into a C++ source defining `extern const char SYMBOL[]` (NUL-terminated).
file(READ ${INPUT} CONTENT HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${CONTENT}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT}; do not edit.\n")
file(APPEND ${OUTPUT} "extern const char ${SYMBOL}[];\nconst char ${SYMBOL}[] = {${BYTES} 0x00};\n")
