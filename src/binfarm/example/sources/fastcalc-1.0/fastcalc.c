#include <stdio.h>
#ifdef USE_AVX2
#include <immintrin.h>
#endif
int main(void) {
#ifdef USE_AVX2
    __m256i a = _mm256_set1_epi32(20), b = _mm256_set1_epi32(22);
    __m256i c = _mm256_add_epi32(a, b);
    int out[8];
    _mm256_storeu_si256((__m256i *)out, c);
    printf("fastcalc: avx2, %d\n", out[0]);
#else
    printf("fastcalc: generic, %d\n", 20 + 22);
#endif
    return 0;
}
