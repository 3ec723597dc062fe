/* Run by CMake's "auto" CPU choice (cmake/vigil_cpu.cmake), compiled with -march=x86-64-v3.
 * It executes an instruction of each x86-64-v3 extension GCC emits for general code and checks
 * the result, so the choice follows what this CPU really executes, not the flag names in
 * /proc/cpuinfo (hypervisors often hide some, e.g. "abm" for LZCNT, while the CPU runs them).
 * An instruction the CPU lacks raises SIGILL (the run fails); LZCNT without support runs as
 * BSR and gives another answer, which the check catches. Exit 0: x86-64-v3 runs here. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static volatile uint64_t sink_u64 = 0x00f0000000000001ull;
static volatile float sink_f = 1.5f;

int main(void) {
  const uint64_t x = sink_u64;
  /* LZCNT (ABM), TZCNT and ANDN (BMI1), PDEP (BMI2). */
  if (_lzcnt_u64(x) != 8) return 1;
  if (_tzcnt_u64(x) != 0) return 2;
  if (_andn_u64(x, ~0ull) != ~x) return 3;
  if (_pdep_u64(5, 0xf0) != 0x50) return 4;
  /* MOVBE: a byte-swapping load. */
  uint64_t swapped;
  __asm__ volatile("movbe %1, %0" : "=r"(swapped) : "m"(sink_u64));
  if (swapped != __builtin_bswap64(x)) return 5;
  /* AVX2 integer, FMA, F16C. */
  __m256i a = _mm256_set1_epi32((int)(x & 0xff));
  __m256i b = _mm256_add_epi32(a, _mm256_set1_epi32(2));
  int lanes[8];
  _mm256_storeu_si256((__m256i*)lanes, b);
  if (lanes[7] != 3) return 6;
  __m256 f = _mm256_fmadd_ps(_mm256_set1_ps(sink_f), _mm256_set1_ps(2.0f), _mm256_set1_ps(1.0f));
  float fl[8];
  _mm256_storeu_ps(fl, f);
  if (fl[0] != 4.0f) return 7;
  __m128i h = _mm_cvtps_ph(_mm_set1_ps(sink_f), 0);
  __m128 back = _mm_cvtph_ps(h);
  float hb[4];
  _mm_storeu_ps(hb, back);
  if (hb[0] != 1.5f) return 8;
  return 0;
}
