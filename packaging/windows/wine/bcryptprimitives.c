/* Wine 8 has no bcryptprimitives.dll, and Go's runtime (1.22+) reads its
   random numbers from ProcessPrng there. Test prefixes only (SPEC §16):
   real Windows 10+ ships the function. RtlGenRandom is SystemFunction036. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return SystemFunction036(data, (ULONG)len); }
