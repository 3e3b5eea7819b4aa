// `laminar inspect RUN.h5`: the run file's tree with shapes and attributes, or (--table) one
// analysis's results as a tidy table.
#include <algorithm>
#include <iostream>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "store/h5.hpp"
#include "store/result_table.hpp"
#include "store/run_file.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

namespace {

std::string shape_text(const std::vector<hsize_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
    return s + "]";
}

void print_attrs(hid_t f, const std::string& path, const std::string& indent, bool all) {
    for (const auto& [name, value] : h5::attributes_as_text(f, path)) {
        if (!all && value.size() > 60) {
            std::cout << indent << "@" << name << " = (" << value.size() << " characters; --all shows it)\n";
            continue;
        }
        std::cout << indent << "@" << name << " = " << value << "\n";
    }
}

}  // namespace

int inspect(const Args& args) {
    po::options_description options("laminar inspect");
    std::string table, format, columns;
    std::vector<std::string> where;
    options.add_options()("run", po::value<std::string>()->required(), "the run file (HDF5)")
                         ("all", "print long attributes (e.g. the experiment spec) in full")
                         ("table", po::value<std::string>(&table), "ANALYSIS: its results as a table, one row per model and hook (or pair)")
                         ("format", po::value<std::string>(&format)->default_value("text"), "of --table: text, csv, tsv or json")
                         ("where", po::value<std::vector<std::string>>(&where)->composing(), "of --table: COLUMN=VALUE, e.g. layer=5 (repeatable)")
                         ("columns", po::value<std::string>(&columns), "of --table: the columns to print, e.g. model,layer,r,categories/*/r");
    po::positional_options_description positional;
    positional.add("run", 1);
    po::variables_map vm;
    if (parse(args, "laminar inspect RUN.h5 [--all] [--table ANALYSIS [--format text|csv|tsv|json] [--where COLUMN=VALUE]... [--columns A,B,C]]",
              options, positional, vm))
        return kExitOk;

    const std::string file = vm["run"].as<std::string>();
    const bool all = vm.count("all") > 0;
    if (table.empty() && (!where.empty() || !vm["format"].defaulted() || vm.count("columns")))
        throw InputError("--format, --where and --columns go with --table ANALYSIS");
    if (format != "text" && format != "csv" && format != "tsv" && format != "json")
        throw InputError("--format must be text, csv, tsv or json (got '" + format + "')");
    h5::Handle f = open_run_file(file);
    if (!table.empty()) {
        ResultTable t = result_table(f, table);
        for (const auto& note : filter_rows(t, where)) std::cerr << "note: " << note << "\n";
        if (vm.count("columns")) select_columns(t, columns);
        print_table(t, format, std::cout);
        return kExitOk;
    }
    std::cout << file << "\n";
    print_attrs(f, ".", "  ", all);
    h5::walk(f, "/", [&](const std::string& path, bool is_group) {
        const auto depth = static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
        const std::string indent(2 * depth + 2, ' ');
        const std::string name = path.substr(path.rfind('/') + 1);
        if (is_group) std::cout << indent << name << "/\n";
        else std::cout << indent << name << "  " << shape_text(h5::shape(f, path)) << " " << h5::dtype_text(f, path) << "\n";
        print_attrs(f, path, indent + "    ", all);
    });
    if (std::filesystem::exists(RunTransaction::partial_path(file)))
        std::cout << "note: " << RunTransaction::partial_path(file).string()
                  << " is left from an interrupted run; the next `laminar run` discards it\n";
    return kExitOk;
}

}  // namespace laminar::cli
