// vigil_evtx_bench: EVTX decoding rate on one thread (a plain program, not Google Benchmark:
// one figure, records/s, with its check).
//
//   vigil_evtx_bench [--dump] [--seconds S] [FILE.evtx | DIR]...
//
// Default input: every .evtx under $VIGIL_CORPORA/evtx (else <source>/../shared/corpora/evtx).
// It first checks the output, untimed: every decoded record must be one JSON object that the
// JSON parser accepts, with an Event.System.EventRecordID, and
// mapped to Sigma's names (EventID and Channel present). Any failure prints what failed and
// exits 1 without a rate: a fast wrong answer is not a result. Then it times whole passes over
// the files (the real path: RecordReader::open, which picks the EVTX reader by magic) for at
// least S seconds (default 3) and prints records/s for decoding alone and for decoding plus
// RecordParser::parse (what `vigil scan` does before matching).
//
// --dump prints each record's JSON (one per line) instead, for inspection.
#include <simdjson.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/evtx/evtx_file.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"

namespace {

using vigil::Record;
using vigil::RecordReader;

std::vector<std::string> collect(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (!std::filesystem::is_directory(a, ec)) {
      files.push_back(a);
      continue;
    }
    for (auto it = std::filesystem::recursive_directory_iterator(a, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".evtx") files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct PassResult {
  std::uint64_t records = 0, damaged = 0, bytes = 0, fields = 0;
  bool ok = true;
};

PassResult pass(const std::vector<std::string>& files, vigil::parse::RecordParser* parser, vigil::Event* event) {
  PassResult r;
  std::vector<Record> batch;
  for (const std::string& f : files) {
    auto reader = RecordReader::open(f);
    if (!reader) {
      std::fprintf(stderr, "%s\n", reader.error().to_string().c_str());
      r.ok = false;
      continue;
    }
    while ((*reader)->next_batch(batch)) {
      for (const Record& rec : batch) {
        if (rec.damaged != nullptr) {
          ++r.damaged;
          continue;
        }
        ++r.records;
        r.bytes += rec.bytes.size();
        if (parser != nullptr) {
          event->start_record(rec.bytes, f, rec.record_no, {}, {}, {});
          parser->parse(vigil::LogFormat::kUnknown, *event);
          r.fields += event->fields.size();
        }
      }
    }
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool dump = false;
  double seconds = 3;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dump") dump = true;
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else args.push_back(a);
  }
  if (args.empty()) {
    const char* env = std::getenv("VIGIL_CORPORA");
    args.push_back(env && *env ? std::string(env) + "/evtx" : std::string(VIGIL_SOURCE_DIR) + "/../shared/corpora/evtx");
  }
  const std::vector<std::string> files = collect(args);
  if (files.empty()) {
    std::fprintf(stderr, "vigil_evtx_bench: no .evtx input\n");
    return 1;
  }

  // Check, untimed.
  simdjson::dom::parser dom;
  vigil::parse::RecordParser parser;
  vigil::Event event;
  std::uint64_t checked = 0, failures = 0, damaged = 0, evtx_bytes = 0;
  std::vector<Record> batch;
  for (const std::string& f : files) {
    std::error_code ec;
    evtx_bytes += std::filesystem::file_size(f, ec);
    auto reader = RecordReader::open(f);
    if (!reader) {
      std::fprintf(stderr, "FAIL %s\n", reader.error().to_string().c_str());
      ++failures;
      continue;
    }
    while ((*reader)->next_batch(batch)) {
      for (const Record& rec : batch) {
        if (rec.damaged != nullptr) {
          ++damaged;
          if (dump) std::printf("DAMAGED %s after record %llu\n", rec.damaged, static_cast<unsigned long long>(rec.record_no));
          continue;
        }
        if (dump) {
          std::printf("%llu ", static_cast<unsigned long long>(rec.record_no));
          std::fwrite(rec.bytes.data(), 1, rec.bytes.size(), stdout);
          std::fputc('\n', stdout);
          continue;
        }
        ++checked;
        auto why = [&](const char* what) {
          if (++failures <= 10)
            std::fprintf(stderr, "FAIL %s record %llu: %s: %.*s\n", f.c_str(),
                         static_cast<unsigned long long>(rec.record_no), what,
                         static_cast<int>(std::min<std::size_t>(rec.bytes.size(), 300)), rec.bytes.data());
        };
        simdjson::dom::element doc;
        if (dom.parse(rec.bytes.data(), rec.bytes.size(), true).get(doc)) {
          why("not JSON");
          continue;
        }
        // Present: a number, or digits in records written without a template, or null in a
        // record whose values were wiped (python-evtx renders that one alike).
        simdjson::dom::element id;
        std::string_view id_text;
        if (doc.at_pointer("/Event/System/EventRecordID").get(id) ||
            !(id.is_uint64() || id.is_null() ||
              (!id.get(id_text) && !id_text.empty() && id_text.find_first_not_of("0123456789") == std::string_view::npos))) {
          why("no EventRecordID");
          continue;
        }
        event.start_record(rec.bytes, f, rec.record_no, {}, {}, {});
        if (!parser.parse(vigil::LogFormat::kUnknown, event) || event.fields.find("EventID") == nullptr ||
            event.fields.find("Channel") == nullptr)
          why("the JSON parser does not give EventID and Channel");
      }
    }
    if (!(*reader)->status().ok()) {
      std::fprintf(stderr, "FAIL %s\n", (*reader)->status().to_string().c_str());
      ++failures;
    }
  }
  if (dump) return 0;
  std::printf("check: %zu files, %llu records decoded, %llu damaged records/chunks skipped, %llu failures\n",
              files.size(), static_cast<unsigned long long>(checked), static_cast<unsigned long long>(damaged),
              static_cast<unsigned long long>(failures));
  if (failures != 0 || checked == 0) {
    std::printf("no rate: the check failed\n");
    return 1;
  }

  // This thread's CPU time: on a shared machine the wall clock also counts other processes'
  // turns; both rates are printed.
  auto cpu_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  auto timed = [&](bool with_parse, const char* label) {
    std::uint64_t records = 0, passes = 0;
    const double cpu_start = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      const PassResult r = pass(files, with_parse ? &parser : nullptr, &event);
      if (!r.ok || r.records != checked) {
        std::printf("no rate: a timed pass read %llu records, the check %llu\n",
                    static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(checked));
        std::exit(1);
      }
      records += r.records;
      ++passes;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    const double cpu = cpu_seconds() - cpu_start;
    std::printf("%-16s %9.0f records/s wall, %9.0f records/s CPU  %6.1f MB/s of .evtx  (%llu passes, %.2f s, one thread)\n",
                label, static_cast<double>(records) / elapsed, static_cast<double>(records) / cpu,
                static_cast<double>(evtx_bytes) * static_cast<double>(passes) / elapsed / 1e6,
                static_cast<unsigned long long>(passes), elapsed);
  };
  timed(false, "decode to JSON");
  timed(true, "decode + parse");
  return 0;
}
