#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "kube/store.h"

using namespace waha::kube;

namespace {

ObjectPtr obj(const std::string& ns, const std::string& name, const std::string& rv,
              Json labels = Json::object(), const std::string& worker = "") {
  Json o = {{"metadata",
             {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}, {"labels", labels}}}};
  if (!worker.empty()) {
    o["status"]["worker"] = worker;
  }
  return std::make_shared<const Json>(o);
}

std::vector<std::string> names(const std::vector<ObjectPtr>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) {
    out.push_back(objectKey(*o));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> byWorker(const Json& o) {
  auto w = o.value("/status/worker"_json_pointer, std::string());
  return w.empty() ? std::vector<std::string>{} : std::vector<std::string>{w};
}

}  // namespace

TEST_CASE("object keys are ns/name, or name for cluster-scoped objects") {
  CHECK(objectKey(*obj("default", "a", "1")) == "default/a");
  CHECK(objectKey(Json{{"metadata", {{"name", "node1"}}}}) == "node1");
  CHECK(resourceVersionOf(*obj("x", "y", "42")) == "42");
  CHECK(resourceVersionOf(Json::object()).empty());
}

TEST_CASE("upsert, get, remove keep snapshots immutable") {
  Store s;
  auto v1 = obj("ns", "a", "1");
  CHECK(s.upsert(v1) == nullptr);
  auto held = s.get("ns/a");
  REQUIRE(held);
  auto v2 = obj("ns", "a", "2");
  CHECK(s.upsert(v2) == v1);
  // A reader's snapshot is unchanged by the write.
  CHECK(resourceVersionOf(*held) == "1");
  CHECK(resourceVersionOf(*s.get("ns/a")) == "2");
  CHECK(s.remove("ns/a") == v2);
  CHECK(s.remove("ns/a") == nullptr);
  CHECK(s.get("ns/a") == nullptr);
  CHECK(s.size() == 0);
}

TEST_CASE("namespace and label indexes follow updates") {
  Store s;
  s.upsert(obj("a", "x", "1", {{"app", "waha"}}));
  s.upsert(obj("a", "y", "1", {{"app", "other"}}));
  s.upsert(obj("b", "z", "1", {{"app", "waha"}, {"tier", "worker"}}));
  CHECK(names(s.byNamespace("a")) == std::vector<std::string>{"a/x", "a/y"});
  CHECK(names(s.byLabel("app", "waha")) == std::vector<std::string>{"a/x", "b/z"});
  CHECK(names(s.byLabel("tier", "worker")) == std::vector<std::string>{"b/z"});
  s.upsert(obj("a", "x", "2", {{"app", "other"}}));
  CHECK(names(s.byLabel("app", "waha")) == std::vector<std::string>{"b/z"});
  CHECK(names(s.byLabel("app", "other")) == std::vector<std::string>{"a/x", "a/y"});
  s.remove("b/z");
  CHECK(s.byLabel("app", "waha").empty());
  CHECK(s.byNamespace("b").empty());
  CHECK(s.byIndex("no-such-index", "v").empty());
}

TEST_CASE("custom index by status.worker, registered before or after objects exist") {
  Store s;
  s.upsert(obj("ns", "s1", "1", {}, "w-0"));
  s.addIndex("byWorker", byWorker);
  s.upsert(obj("ns", "s2", "1", {}, "w-0"));
  s.upsert(obj("ns", "s3", "1", {}, "w-1"));
  s.upsert(obj("ns", "s4", "1"));
  CHECK(names(s.byIndex("byWorker", "w-0")) == std::vector<std::string>{"ns/s1", "ns/s2"});
  CHECK(names(s.byIndex("byWorker", "w-1")) == std::vector<std::string>{"ns/s3"});
  // Moving a session to another worker moves it between buckets.
  s.upsert(obj("ns", "s1", "2", {}, "w-1"));
  CHECK(names(s.byIndex("byWorker", "w-0")) == std::vector<std::string>{"ns/s2"});
  CHECK(names(s.byIndex("byWorker", "w-1")) == std::vector<std::string>{"ns/s1", "ns/s3"});
}

TEST_CASE("replace reports adds, deletes and changed objects only, and reindexes") {
  Store s;
  s.addIndex("byWorker", byWorker);
  s.upsert(obj("ns", "keep", "1", {}, "w-0"));
  s.upsert(obj("ns", "change", "1", {}, "w-0"));
  s.upsert(obj("ns", "gone", "1", {}, "w-0"));
  auto changes = s.replace({obj("ns", "keep", "1", {}, "w-0"), obj("ns", "change", "5", {}, "w-1"),
                            obj("ns", "new", "6", {}, "w-1")});
  std::map<std::string, std::string> kinds;
  for (const auto& c : changes) {
    std::string key = objectKey(c.newObj ? *c.newObj : *c.oldObj);
    kinds[key] = !c.oldObj ? "add" : !c.newObj ? "delete" : "update";
  }
  CHECK(kinds == std::map<std::string, std::string>{
                     {"ns/change", "update"}, {"ns/gone", "delete"}, {"ns/new", "add"}});
  CHECK(names(s.list()) == std::vector<std::string>{"ns/change", "ns/keep", "ns/new"});
  CHECK(names(s.byIndex("byWorker", "w-0")) == std::vector<std::string>{"ns/keep"});
  CHECK(names(s.byIndex("byWorker", "w-1")) == std::vector<std::string>{"ns/change", "ns/new"});
  CHECK(s.countByIndex("byWorker", "w-1") == 2);
  CHECK(s.countByIndex("byWorker", "w-9") == 0);
  CHECK(s.countByIndex("no-such-index", "w-1") == 0);
  CHECK_FALSE(s.hasSynced());
  s.markSynced();
  CHECK(s.hasSynced());
}

TEST_CASE("a namespace-scoped replace leaves other namespaces alone; sync needs every scope") {
  Store s;
  s.expectSyncs(2);
  s.addIndex("byWorker", byWorker);
  s.upsert(obj("a", "x", "1", {}, "w-0"));
  s.upsert(obj("a", "gone", "1", {}, "w-0"));
  s.upsert(obj("b", "y", "1", {}, "w-0"));
  auto changes = s.replace({obj("a", "x", "2", {}, "w-1")}, "a");
  std::map<std::string, std::string> kinds;
  for (const auto& c : changes) {
    std::string key = objectKey(c.newObj ? *c.newObj : *c.oldObj);
    kinds[key] = !c.oldObj ? "add" : !c.newObj ? "delete" : "update";
  }
  // b/y was not in namespace a's list and must neither vanish nor be reported.
  CHECK(kinds == std::map<std::string, std::string>{{"a/gone", "delete"}, {"a/x", "update"}});
  CHECK(names(s.list()) == std::vector<std::string>{"a/x", "b/y"});
  CHECK(names(s.byIndex("byWorker", "w-0")) == std::vector<std::string>{"b/y"});
  CHECK(names(s.byIndex("byWorker", "w-1")) == std::vector<std::string>{"a/x"});
  s.markSynced("a");
  s.markSynced("a");
  CHECK_FALSE(s.hasSynced());
  s.markSynced("b");
  CHECK(s.hasSynced());
}

TEST_CASE("readers run concurrently with the single writer") {
  Store s;
  s.addIndex("byWorker", byWorker);
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::atomic<long> wrong{0};  // Catch2 assertions are not thread-safe: count, check after
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        for (const auto& o : s.byIndex("byWorker", "w-1")) {
          // Every object found under w-1 really is on w-1: indexes never disagree with objects.
          if (o->value("/status/worker"_json_pointer, std::string()) != "w-1") {
            ++wrong;
          }
        }
        s.list();
        ++reads;
      }
    });
  }
  for (int i = 0; i < 3000; ++i) {
    s.upsert(obj("ns", "s" + std::to_string(i % 50), std::to_string(i), {},
                 "w-" + std::to_string(i % 3)));
  }
  done = true;
  for (auto& t : readers) {
    t.join();
  }
  CHECK(s.size() == 50);
  CHECK(reads > 0);
  CHECK(wrong == 0);
}
