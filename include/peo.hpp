// peo.hpp: a header-only C++17 wrapper over peo.h (libpeo).
//
// - Handles are RAII types (move-only; the peo_*_free calls happen in destructors).
// - A failed call throws peo::Error, which carries the status, its code ("PEO_DECODE",
//   the same code as in every other language) and the error payload as JSON (code, kind,
//   message, record, state, field).
// - Task handlers are std::function: a handler returns its output as JSON text; throwing
//   peo::TaskFailed records a named ASL error ("Bank.Busy"), any other exception records
//   its type name as the error and what() as the cause. Exceptions never unwind into peo.
//
// Link with peo::peo (CMake: find_package(peo)) or `pkg-config --libs peo`.
#ifndef PEO_HPP
#define PEO_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cxxabi.h>
#include <cstdlib>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "peo.h"

namespace peo {

/// The library's version ("0.1.0"), as peo_version() reports it.
inline std::string version() { return peo_version(); }

/// A status other than PEO_OK, as an exception.
class Error : public std::runtime_error {
 public:
  explicit Error(peo_status status)
      : std::runtime_error(std::string(peo_status_name(status)) + ": " + peo_last_error_message()),
        status_(status),
        details_(peo_last_error_json()) {}
  /// The status (PEO_DECODE, PEO_POLICY, ...).
  peo_status status() const noexcept { return status_; }
  /// The code every language reports ("PEO_DECODE").
  const char *code() const noexcept { return peo_status_name(status_); }
  /// The error as JSON: {"code", "kind", "message", "record", "state", "field"}.
  const std::string &details_json() const noexcept { return details_; }

 private:
  peo_status status_;
  std::string details_;
};

/// Throws peo::Error unless `status` is PEO_OK.
inline void check(peo_status status) {
  if (status != PEO_OK) throw Error(status);
}

/// Thrown by a task handler to record a named ASL error (matched by Retry and Catch).
class TaskFailed : public std::runtime_error {
 public:
  TaskFailed(std::string error, const std::string &cause) : std::runtime_error(cause), error_(std::move(error)) {}
  const std::string &error() const noexcept { return error_; }

 private:
  std::string error_;
};

using Bytes = std::vector<uint8_t>;
using PublicKey = std::array<uint8_t, 32>;

namespace detail {
struct Free {
  void operator()(PeoObject *p) const noexcept { peo_object_free(p); }
  void operator()(PeoNode *p) const noexcept { peo_node_free(p); }
  void operator()(PeoVisit *p) const noexcept { peo_visit_free(p); }
  void operator()(PeoSigningKey *p) const noexcept { peo_signing_key_free(p); }
  void operator()(PeoJetStream *p) const noexcept { peo_jetstream_free(p); }
  void operator()(char *p) const noexcept { peo_string_free(p); }
};

/// Takes a string peo allocated, frees it, returns a copy.
inline std::string take(char *raw) {
  std::unique_ptr<char, Free> owned(raw);
  return raw ? std::string(raw) : std::string();
}

inline Bytes take_bytes(uint8_t *raw, size_t len) {
  Bytes out(raw, raw + len);
  peo_bytes_free(raw, len);
  return out;
}

inline const char *or_null(const std::string &s) { return s.empty() ? nullptr : s.c_str(); }

inline std::string type_name(const std::exception &e) {
  int status = 0;
  char *name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string out = (status == 0 && name) ? name : typeid(e).name();
  std::free(name);
  return out;
}
}  // namespace detail

/// A signing key (Ed25519).
class SigningKey {
 public:
  static SigningKey generate() {
    PeoSigningKey *raw = nullptr;
    check(peo_signing_key_generate(&raw));
    return SigningKey(raw);
  }
  static SigningKey from_seed(const std::array<uint8_t, 32> &seed) {
    PeoSigningKey *raw = nullptr;
    check(peo_signing_key_from_bytes(seed.data(), seed.size(), &raw));
    return SigningKey(raw);
  }
  PublicKey public_key() const {
    PublicKey out{};
    check(peo_signing_key_public_key(handle_.get(), out.data()));
    return out;
  }
  /// An event signed for one object (for an Await state with `Signers`), as JSON.
  std::string sign_event(const std::string &object_id, const std::string &event_json) const {
    char *out = nullptr;
    check(peo_signing_key_sign_event(handle_.get(), object_id.c_str(), event_json.c_str(), &out));
    return detail::take(out);
  }
  const PeoSigningKey *get() const noexcept { return handle_.get(); }

 private:
  explicit SigningKey(PeoSigningKey *raw) : handle_(raw) {}
  std::unique_ptr<PeoSigningKey, detail::Free> handle_;
};

/// A peo object: intent, context, memory and data.
class Object {
 public:
  /// Creates an object from its intent (an ASL plan, JSON), context (JSON or "") and input.
  static Object create(const std::string &intent_json, const std::string &context_json = "",
                       const std::string &input_json = "{}", const PeoCreateOptions *options = nullptr) {
    PeoObject *raw = nullptr;
    check(peo_object_create(intent_json.c_str(), detail::or_null(context_json), input_json.c_str(), options, &raw));
    return Object(raw);
  }
  /// Decodes an object's bytes (checks the format and the hash chain, not signatures).
  static Object from_bytes(const uint8_t *bytes, size_t len) {
    PeoObject *raw = nullptr;
    check(peo_object_from_bytes(bytes, len, &raw));
    return Object(raw);
  }
  static Object from_bytes(const Bytes &bytes) { return from_bytes(bytes.data(), bytes.size()); }
  /// Takes ownership of a handle from the C API.
  explicit Object(PeoObject *raw) : handle_(raw) {}

  Bytes to_bytes() const {
    uint8_t *raw = nullptr;
    size_t len = 0;
    check(peo_object_to_bytes(handle_.get(), &raw, &len));
    return detail::take_bytes(raw, len);
  }
  /// Verifies every record and signature against the trusted keys; the report as JSON.
  std::string verify(const std::vector<PublicKey> &trusted_keys) const {
    char *report = nullptr;
    check(peo_object_verify(handle_.get(), trusted_keys.empty() ? nullptr : trusted_keys.front().data(),
                            trusted_keys.size(), &report));
    return detail::take(report);
  }
  std::string to_json() const { return text(peo_object_to_json); }
  std::string memory_json() const { return text(peo_object_memory_json); }
  std::string data_json() const { return text(peo_object_data_json); }
  std::string state() const { return text(peo_object_state); }
  std::string id() const { return text(peo_object_id); }
  std::string head() const { return text(peo_object_head); }
  PeoObjectStatus status() const {
    PeoObjectStatus out{};
    check(peo_object_status(handle_.get(), &out));
    return out;
  }
  std::string status_name() const { return peo_object_status_name(status()); }
  size_t record_count() const {
    size_t out = 0;
    check(peo_object_record_count(handle_.get(), &out));
    return out;
  }
  const PeoObject *get() const noexcept { return handle_.get(); }

 private:
  std::string text(peo_status (*fn)(const PeoObject *, char **)) const {
    char *out = nullptr;
    check(fn(handle_.get(), &out));
    return detail::take(out);
  }
  std::unique_ptr<PeoObject, detail::Free> handle_;
};

/// What one visit did: the disposition, the records it appended, the object after it.
class Visit {
 public:
  explicit Visit(PeoVisit *raw) : handle_(raw) {}
  PeoDispositionKind disposition() const {
    PeoDispositionKind out{};
    check(peo_visit_disposition(handle_.get(), &out));
    return out;
  }
  std::string disposition_json() const { return text(peo_visit_disposition_json); }
  std::string records_json() const { return text(peo_visit_records_json); }
  size_t appended() const {
    size_t out = 0;
    check(peo_visit_appended(handle_.get(), &out));
    return out;
  }
  /// The object's bytes after the visit (send these on).
  Bytes bytes() const {
    const uint8_t *raw = nullptr;
    size_t len = 0;
    check(peo_visit_bytes(handle_.get(), &raw, &len));
    return Bytes(raw, raw + len);
  }
  Object object() const {
    PeoObject *raw = nullptr;
    check(peo_visit_object(handle_.get(), &raw));
    return Object(raw);
  }

 private:
  std::string text(peo_status (*fn)(const PeoVisit *, char **)) const {
    char *out = nullptr;
    check(fn(handle_.get(), &out));
    return detail::take(out);
  }
  std::unique_ptr<PeoVisit, detail::Free> handle_;
};

/// A task handler: the call (capability, state, input JSON, idempotency key, attempt)
/// in, the output JSON out.
using Handler = std::function<std::string(const PeoCall &)>;

/// A node: an identity in a domain, its handlers, policy and trust.
class Node {
 public:
  Node(const std::string &id, const std::string &domain) {
    PeoNode *raw = nullptr;
    check(peo_node_new(id.c_str(), domain.c_str(), &raw));
    handle_.reset(raw);
  }
  Node(Node &&) noexcept = default;
  Node &operator=(Node &&) noexcept = default;

  /// Registers the handler for a capability. The node keeps it alive.
  Node &handler(const std::string &capability, Handler fn) {
    handlers_.push_back(std::make_unique<Handler>(std::move(fn)));
    check(peo_node_add_handler(handle_.get(), capability.c_str(), &Node::trampoline, handlers_.back().get()));
    return *this;
  }
  Node &key(const SigningKey &key) {
    check(peo_node_set_key(handle_.get(), key.get()));
    return *this;
  }
  /// The node's Cedar policies (text).
  Node &policy(const std::string &cedar) {
    check(peo_node_set_policy(handle_.get(), cedar.c_str()));
    return *this;
  }
  Node &facts(const std::string &facts_json) {
    check(peo_node_set_facts(handle_.get(), facts_json.c_str()));
    return *this;
  }
  /// The trust store as JSON ("\"any\"" trusts every key; see docs/security.md).
  Node &trust(const std::string &trust_json) {
    check(peo_node_set_trust(handle_.get(), trust_json.c_str()));
    return *this;
  }
  Node &trusted_keys(const std::vector<PublicKey> &keys) {
    check(peo_node_set_trusted_keys(handle_.get(), keys.empty() ? nullptr : keys.front().data(), keys.size()));
    return *this;
  }
  /// Visits an object (its bytes), with an event (JSON) or without ("").
  Visit visit(const Bytes &bytes, const std::string &event_json = "") const {
    PeoVisit *raw = nullptr;
    check(peo_node_visit(handle_.get(), bytes.data(), bytes.size(), detail::or_null(event_json), &raw));
    return Visit(raw);
  }
  /// Serves the node on a NATS JetStream mesh until `options` say stop; the counters as JSON.
  std::string serve(const std::string &url, const PeoServeOptions *options = nullptr) const {
    char *stats = nullptr;
    check(peo_node_serve(handle_.get(), url.c_str(), options, &stats));
    return detail::take(stats);
  }
  PeoNode *get() const noexcept { return handle_.get(); }

 private:
  static void trampoline(void *user_data, const PeoCall *call, PeoTaskResult *result) noexcept {
    try {
      std::string output = (*static_cast<Handler *>(user_data))(*call);
      peo_task_result_set_output(result, output.c_str());
    } catch (const TaskFailed &e) {
      peo_task_result_set_error(result, e.error().c_str(), e.what());
    } catch (const std::exception &e) {
      peo_task_result_set_error(result, detail::type_name(e).c_str(), e.what());
    } catch (...) {
      peo_task_result_set_error(result, "Cpp.UnknownException", "the handler threw something that is not a std::exception");
    }
  }
  std::unique_ptr<PeoNode, detail::Free> handle_;
  std::list<std::unique_ptr<Handler>> handlers_;
};

/// A JetStream client: submit objects, send events, read and wait for objects.
class JetStream {
 public:
  static JetStream connect(const std::string &url, const PeoConnectOptions *options = nullptr) {
    PeoJetStream *raw = nullptr;
    check(peo_jetstream_connect(url.c_str(), options, &raw));
    return JetStream(raw);
  }
  /// Submits an object; its id (hex).
  std::string submit(const Bytes &bytes) const {
    char *id = nullptr;
    check(peo_jetstream_submit(handle_.get(), bytes.data(), bytes.size(), &id));
    return detail::take(id);
  }
  void send_event(const std::string &object_id, const std::string &event_json) const {
    check(peo_jetstream_send_event(handle_.get(), object_id.c_str(), event_json.c_str()));
  }
  Object get(const std::string &object_id) const {
    PeoObject *raw = nullptr;
    check(peo_jetstream_get(handle_.get(), object_id.c_str(), &raw));
    return Object(raw);
  }
  /// The object's final version once it has ended, or nothing after `timeout_seconds`.
  std::optional<Object> wait(const std::string &object_id, double timeout_seconds) const {
    PeoObject *raw = nullptr;
    check(peo_jetstream_wait(handle_.get(), object_id.c_str(), timeout_seconds, &raw));
    if (!raw) return std::nullopt;
    return Object(raw);
  }

 private:
  explicit JetStream(PeoJetStream *raw) : handle_(raw) {}
  std::unique_ptr<PeoJetStream, detail::Free> handle_;
};

}  // namespace peo

#endif  // PEO_HPP
