# find_package(laminar): the plugin SDK of an installed laminar.
#
#   laminar::api                 the plugin API headers (no Armadillo)
#   laminar::analysis            laminar/analysis/*.hpp with Armadillo, BLAS and OpenMP, where found
#   laminar_add_plugin(<kind> <name> SOURCES <files...>)   a plugin .so (see LaminarPlugin.cmake)
#
# The plugins it builds land in <build>/plugins: run them with LAMINAR_PLUGIN_PATH=<build>/plugins
# laminar run ..., or `cmake --install` them into the prefix laminar was installed in.
include(CMakeFindDependencyMacro)
find_dependency(nlohmann_json 3)
find_dependency(Boost 1.74)
include(${CMAKE_CURRENT_LIST_DIR}/laminarTargets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/LaminarPlugin.cmake)
