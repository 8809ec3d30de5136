/* Deliberately leaks one object: bindings/c/tests/run.sh checks that valgrind, run the
 * way the suite runs it, fails this program, so a leak in the suite could not pass. */
#include "peo.h"

int main(void) {
  PeoObject *object = NULL;
  const char *plan = "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Succeed\"}}}";
  return peo_object_create(plan, NULL, NULL, NULL, &object) == PEO_OK ? 0 : 1; /* no peo_object_free */
}
