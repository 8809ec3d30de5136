/* Prints the library's version and the wire format version it writes. */
#include <stdio.h>

#include <peo.h>

int main(void) {
  printf("%s %u\n", peo_version(), (unsigned)peo_wire_format_version());
  return 0;
}
