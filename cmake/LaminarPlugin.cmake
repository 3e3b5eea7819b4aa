# laminar_add_plugin(<kind> <name> SOURCES <files...> [LIBRARIES <targets...>] [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# Builds plugin <name> of <kind> (model, extractor, metric) as laminar_<kind>_<name>.so in the
# build's plugin folder (or OUTPUT_DIR), with hidden visibility so that only the
# BOOST_DLL_ALIAS exports are seen by the host.
function(laminar_add_plugin kind name)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
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

# laminar_add_metric(<name> SOURCES <files...>): a metric plugin, linked with Armadillo
# (and through it the system BLAS: OpenBLAS once tools/setup.sh has installed it).
# Permutation and bootstrap loops run on all cores through OpenMP.
function(laminar_add_metric name)
  find_package(Armadillo REQUIRED)
  find_package(OpenMP REQUIRED)
  laminar_add_plugin(metric ${name} ${ARGN} LIBRARIES ${ARMADILLO_LIBRARIES} OpenMP::OpenMP_CXX)
  target_include_directories(laminar_metric_${name} PRIVATE ${ARMADILLO_INCLUDE_DIRS})
endfunction()

# laminar_add_model(<name> SOURCES <files...>): a model plugin on top of laminar_model_common
# (plugins/models/common: safetensors, config.json, hook plans, batching, tokenizers).
function(laminar_add_model name)
  laminar_add_plugin(model ${name} ${ARGN} LIBRARIES laminar_model_common)
endfunction()
