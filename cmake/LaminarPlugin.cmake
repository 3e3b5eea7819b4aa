# How plugins are built, in laminar's tree and out of it: this file is installed with the
# CMake package, so `find_package(laminar)` gives a plugin project the same functions.
#
#   laminar::api        the plugin API (laminar/*.hpp): headers only, no Armadillo
#   laminar::analysis   laminar/analysis/*.hpp for metrics that want them: Armadillo, BLAS, OpenMP
#                       (defined where Armadillo is found; libarmadillo-dev on Debian)
include(GNUInstallDirs)

if(NOT TARGET laminar::analysis)
  find_package(Armadillo QUIET)
  find_package(OpenMP QUIET COMPONENTS CXX)
  find_package(BLAS QUIET)
  if(ARMADILLO_FOUND AND OpenMP_CXX_FOUND AND BLAS_FOUND)
    # Armadillo (and through it the system BLAS: OpenBLAS once tools/setup.sh has installed
    # it); permutation and bootstrap loops run on all cores through OpenMP.
    add_library(laminar::analysis INTERFACE IMPORTED)
    target_include_directories(laminar::analysis INTERFACE ${ARMADILLO_INCLUDE_DIRS})
    # BLAS itself too: matrices.hpp's triangular products (dtrmm, strmm), which Armadillo does not offer.
    target_link_libraries(laminar::analysis INTERFACE laminar::api ${ARMADILLO_LIBRARIES} ${BLAS_LIBRARIES} OpenMP::OpenMP_CXX)
    # The hand-written sums (permuted_sums.hpp) fix their order of operations; fusing a multiply
    # and an add (-march with FMA) would round differently from a build without it.
    target_compile_options(laminar::analysis INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>)
  endif()
endif()

# Where `laminar_add_plugin` puts the .so files of this build (LAMINAR_PLUGIN_PATH finds them).
if(NOT DEFINED LAMINAR_PLUGIN_DIR)
  set(LAMINAR_PLUGIN_DIR ${CMAKE_BINARY_DIR}/plugins)
endif()

# laminar_add_plugin(<kind> <name> SOURCES <files...> [LIBRARIES <targets...>] [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# Builds plugin <name> of <kind> (model, extractor, metric) as laminar_<kind>_<name>.so in
# LAMINAR_PLUGIN_DIR (or OUTPUT_DIR), with hidden visibility so that only the
# BOOST_DLL_ALIAS exports are seen by the host; `cmake --install` puts it where an installed
# laminar looks (<prefix>/lib/laminar/plugins).
function(laminar_add_plugin kind name)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT kind MATCHES "^(model|extractor|metric)$")
    message(FATAL_ERROR "laminar_add_plugin(${kind} ${name}): the kind is model, extractor or metric")
  endif()
  set(target laminar_${kind}_${name})
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${LAMINAR_PLUGIN_DIR})
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE laminar::api ${P_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  if(NOT P_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/laminar/plugins)
  endif()
endfunction()

# laminar_add_metric(<name> SOURCES <files...>): a metric plugin with laminar::analysis.
function(laminar_add_metric name)
  if(NOT TARGET laminar::analysis)
    message(FATAL_ERROR "laminar_add_metric(${name}): laminar::analysis needs Armadillo, BLAS and OpenMP "
                        "(apt-get install libarmadillo-dev); a metric without them: laminar_add_plugin(metric ${name} ...)")
  endif()
  laminar_add_plugin(metric ${name} ${ARGN} LIBRARIES laminar::analysis)
endfunction()

# laminar_add_model(<name> SOURCES <files...>): a model plugin on top of laminar_model_common
# (plugins/models/common: safetensors, config.json, hook plans, batching, tokenizers); in
# laminar's tree only.
function(laminar_add_model name)
  laminar_add_plugin(model ${name} ${ARGN} LIBRARIES laminar_model_common)
endfunction()
