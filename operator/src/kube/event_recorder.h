#pragma once

// Kubernetes Events about our objects ("SessionMoved", "WorkerDrained"...), written off the
// reconcile path: record() only queues. Repeats of the same (object, type, reason, message) become
// one Event whose count and lastTimestamp grow, as client-go's EventCorrelator does, so a
// reconcile loop that fails every few seconds does not flood etcd.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "kube/client.h"

namespace waha::kube {

struct ObjectReference {
  std::string apiVersion;
  std::string kind;
  std::string ns;  // empty for cluster-scoped objects
  std::string name;
  std::string uid;
  std::string resourceVersion;
  std::string fieldPath;

  // From an object's apiVersion, kind and metadata.
  static ObjectReference fromObject(const Json& obj);
  Json toJson() const;
};

enum class EventType { Normal, Warning };

struct EventRecorderOptions {
  std::string component = "waha-operator";  // source.component / reportingComponent
  std::string host;                         // source.host / reportingInstance (pod name)
  size_t queueSize = 1000;                  // beyond this, record() drops (and counts)
  size_t cacheSize = 4096;                  // distinct events remembered for aggregation
  std::function<void()> onDropped;          // for a metric; called under no lock
};

class EventRecorder {
 public:
  EventRecorder(KubeClient& client, Clock& clock, EventRecorderOptions options = {});
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Never blocks on the API: queues the event or drops it when the queue is full.
  void record(const ObjectReference& object, EventType type, const std::string& reason,
              const std::string& message);
  // Writes what is still queued, then stops the writer thread. record() afterwards drops.
  void stop();

  uint64_t dropped() const { return dropped_.load(); }
  uint64_t written() const { return written_.load(); }  // successful creates and patches

 private:
  struct Item {
    ObjectReference object;
    EventType type;
    std::string reason;
    std::string message;
    WallTime at;
  };
  struct Seen {
    std::string eventName;
    std::string eventNs;
    int count = 0;
    std::string firstTimestamp;
    std::list<std::string>::iterator lru;
  };
  void run();
  void write(const Item& item);
  bool createEvent(const Item& item, const std::string& key, int count,
                   const std::string& firstTimestamp);
  void remember(const std::string& key, Seen seen);

  KubeClient& client_;
  Clock& clock_;
  EventRecorderOptions opts_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> written_{0};

  // Writer-thread only.
  std::unordered_map<std::string, Seen> seen_;
  std::list<std::string> lru_;  // most recent first
  uint64_t seq_ = 0;

  std::thread thread_;
};

}  // namespace waha::kube
