#include "store/run_stamp.hpp"

#include <boost/version.hpp>

#include "runtime/content_hash.hpp"
#include "store/h5.hpp"
#include "store/run_file.hpp"

#ifndef LAMINAR_VERSION
#define LAMINAR_VERSION "0.0.0"
#endif

namespace laminar {

void stamp_root(hid_t file, const std::string& experiment, const std::string& spec_text) {
    h5::set_attr(file, ".", "laminar_version", std::string(LAMINAR_VERSION));
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    h5::set_attr(file, ".", "libraries", "HDF5 " + std::to_string(major) + "." + std::to_string(minor) + "." +
                                             std::to_string(release) + "; Boost " + std::string(BOOST_LIB_VERSION));
    h5::set_attr(file, ".", "experiment", experiment);
    h5::set_attr(file, ".", "spec", spec_text);
    h5::set_attr(file, ".", "spec_hash", hash_text(spec_text));
    if (!h5::has_attr(file, ".", "created")) h5::set_attr(file, ".", "created", utc_now());
    h5::set_attr(file, ".", "updated", utc_now());
}

}  // namespace laminar
