#include "core/build_id.h"

#include <elf.h>
#include <link.h>

#include <cstring>

namespace vigil {

namespace {

std::string read_build_id() {
  std::string out;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        // The first object listed is the program itself.
        auto* id = static_cast<std::string*>(data);
        for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            ElfW(Nhdr) note;
            std::memcpy(&note, p, sizeof note);
            const char* name = p + sizeof note;
            const char* desc = name + ((note.n_namesz + 3) & ~3u);
            const char* next = desc + ((note.n_descsz + 3) & ~3u);
            if (next > end) break;
            if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
              static const char kHex[] = "0123456789abcdef";
              for (ElfW(Word) k = 0; k < note.n_descsz; ++k) {
                const auto b = static_cast<unsigned char>(desc[k]);
                id->push_back(kHex[b >> 4]);
                id->push_back(kHex[b & 15]);
              }
              return 1;
            }
            p = next;
          }
        }
        return 1;  // only the program
      },
      &out);
  return out;
}

}  // namespace

const std::string& program_build_id() {
  static const std::string id = read_build_id();
  return id;
}

}  // namespace vigil
