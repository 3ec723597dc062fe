#pragma once
// An EVTX file as a RecordReader: one record per event record, its bytes the event as JSON in
// the evtx_dump layout (core/evtx/evtx_file.h), so everything downstream of a RecordReader
// (vigil scan, the file collector) reads .evtx files as it reads evtx_dump output.
// RecordReader::open picks it by the file's magic ("ElfFile\0"), whatever the file's name.
#include <memory>
#include <string>

#include "core/evtx/evtx_file.h"
#include "core/record_reader.h"
#include "core/status.h"

namespace vigil::evtx {

// Reads the EVTX file open on `fd` (owned: closed by the reader). Record::record_no is the
// event record id from the record header; a damaged record or chunk is returned as a record
// with empty bytes and Record::damaged naming the reason (to_string(EvtxDamage)), so callers
// count it and go on. Chunks are read one by one (64 KiB), so memory does not grow with the
// file. `stats` (optional) is updated after each batch and must outlive the reader.
std::unique_ptr<RecordReader> make_evtx_reader(int fd, std::string name, RecordReaderOptions options,
                                               EvtxStats* stats = nullptr);

}  // namespace vigil::evtx
