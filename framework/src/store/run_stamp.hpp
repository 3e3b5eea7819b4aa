// The run file's root attributes: which laminar, which libraries, which experiment wrote it.
// Lives in store/ so that every stage stamps the same way without calling back up into the pipeline.
#pragma once

#include <hdf5.h>

#include <string>

namespace laminar {

/// Stamps the root attributes (laminar_version, libraries, experiment, spec, spec_hash,
/// created once, updated each time) from the experiment's name and its file's text.
void stamp_root(hid_t file, const std::string& experiment, const std::string& spec_text);

}  // namespace laminar
