// The header from C++: RAII handles (std::unique_ptr with the peo_*_free deleters), a
// handler written as a capturing lambda behind the C callback, and statuses turned into
// exceptions at the wrapper's edge (never thrown through peo).
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "peo.h"

namespace {

struct Free {
  void operator()(PeoObject *p) const { peo_object_free(p); }
  void operator()(PeoNode *p) const { peo_node_free(p); }
  void operator()(PeoVisit *p) const { peo_visit_free(p); }
  void operator()(char *p) const { peo_string_free(p); }
};
using Object = std::unique_ptr<PeoObject, Free>;
using Node = std::unique_ptr<PeoNode, Free>;
using Visit = std::unique_ptr<PeoVisit, Free>;
using String = std::unique_ptr<char, Free>;

struct Error : std::runtime_error {
  peo_status status;
  Error(peo_status s) : std::runtime_error(std::string(peo_status_name(s)) + ": " + peo_last_error_message()), status(s) {}
};

void check(peo_status s) {
  if (s != PEO_OK) throw Error(s);
}

using Handler = std::function<std::string(const PeoCall &)>;

// The C callback: runs the std::function; an exception becomes the attempt's error
// instead of unwinding into peo.
void trampoline(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  auto &handler = *static_cast<Handler *>(user_data);
  try {
    std::string output = handler(*call);
    peo_task_result_set_output(result, output.c_str());
  } catch (const std::exception &e) {
    peo_task_result_set_error(result, "Cpp.Exception", e.what());
  }
}

}  // namespace

int main() {
  const char *plan =
      R"({"StartAt": "Square", "States": {
            "Square": {"Type": "Task", "Resource": "math.square", "ResultPath": "$.result", "Next": "Risky"},
            "Risky": {"Type": "Task", "Resource": "math.risky", "End": true,
                      "Catch": [{"ErrorEquals": ["Cpp.Exception"], "ResultPath": "$.caught", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}}})";
  PeoObject *raw = nullptr;
  check(peo_object_create(plan, nullptr, R"({"n": 12})", nullptr, &raw));
  Object object(raw);
  uint8_t *bytes = nullptr;
  size_t len = 0;
  check(peo_object_to_bytes(object.get(), &bytes, &len));

  int squares = 0;
  Handler square = [&squares](const PeoCall &call) {
    squares++;
    std::string input = call.input_json;
    return std::string(R"({"square": 144, "input_was": )") + input + "}";
  };
  Handler risky = [](const PeoCall &) -> std::string { throw std::runtime_error("division by zero"); };

  PeoNode *raw_node = nullptr;
  check(peo_node_new("cpp-node", "lab", &raw_node));
  check(peo_node_set_trust(raw_node, "\"any\""));
  Node node(raw_node);
  check(peo_node_add_handler(node.get(), "math.square", trampoline, &square));
  check(peo_node_add_handler(node.get(), "math.risky", trampoline, &risky));

  PeoVisit *raw_visit = nullptr;
  peo_status status = peo_node_visit(node.get(), bytes, len, nullptr, &raw_visit);
  peo_bytes_free(bytes, len);
  check(status);
  Visit visit(raw_visit);

  PeoObject *raw_after = nullptr;
  check(peo_visit_object(visit.get(), &raw_after));
  Object after(raw_after);
  char *raw_data = nullptr;
  check(peo_object_data_json(after.get(), &raw_data));
  String data(raw_data);
  std::string text = data.get();
  PeoObjectStatus object_status;
  check(peo_object_status(after.get(), &object_status));
  if (squares != 1 || object_status != PEO_OBJECT_STATUS_SUCCEEDED ||
      text.find(R"("square":144)") == std::string::npos || text.find("division by zero") == std::string::npos) {
    std::fprintf(stderr, "cpp: unexpected result: %s\n", text.c_str());
    return 1;
  }

  // A status as an exception, with the library's message.
  try {
    PeoObject *bad = nullptr;
    check(peo_object_from_bytes(reinterpret_cast<const uint8_t *>("PEO1junk"), 8, &bad));
    std::fprintf(stderr, "cpp: junk decoded\n");
    return 1;
  } catch (const Error &e) {
    if (e.status != PEO_DECODE || std::strlen(e.what()) < 12) return 1;
  }
  std::printf("cpp: RAII handles, lambda handlers, an exception caught as a task error: %s\n", text.c_str());
  return 0;
}
