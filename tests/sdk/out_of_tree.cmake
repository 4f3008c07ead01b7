# Installs the build tree into a temporary prefix, builds
# docs/examples/plugin-skeleton against it with find_package(rtscope), checks
# that the plugin exports only rts_plugin_entry, and runs the installed
# rtscope-run on a graph placed on the skeleton plugin; an application
# linking rtscope::host from the install loads the plugin too.
#   cmake -DSOURCE_DIR=<repo> -DBINARY_DIR=<build> -DWORK_DIR=<scratch> -P out_of_tree.cmake
foreach(var SOURCE_DIR BINARY_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "out_of_tree.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

# Configures and builds the CMake project in `source` against the install,
# in `build`.
function(build_against_install what source build)
  run_step("configure ${what}" ${CMAKE_COMMAND} ${generator} -S ${source} -B ${build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
  run_step("build ${what}" ${CMAKE_COMMAND} --build ${build})
endfunction()

# Fails with `failure` and the last step's output unless that output
# matches `pattern`.
function(expect_output pattern failure)
  if(NOT step_output MATCHES "${pattern}")
    message(FATAL_ERROR "${failure}:\n${step_output}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(example_build ${WORK_DIR}/skeleton-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run_step("install" ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
foreach(file include/rtscope/rtscope.hpp include/rtscope/plugin_abi.h
             include/rtscope/runtime_settings.hpp include/rtscope/runtime_cache.hpp
             bin/rtscope-run bin/rtscope-cache share/rtscope/plugin_exports.map
             lib/cmake/rtscope/rtscopeConfig.cmake lib/cmake/rtscope/rtscopeConfigVersion.cmake
             lib/pkgconfig/rtscope.pc lib/rtscope/plugins/librtscope_plugin_cpu.so
             include/rtscope/op_schema.hpp lib/librtscope_op_schema.a
             lib/librtscope_kit.a include/rtscope/kit/plugin_api.hpp
             include/rtscope/kit/op_table.hpp include/rtscope/kit/op_attrs.hpp)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "install: ${prefix}/${file} is missing")
  endif()
endforeach()

find_program(NINJA ninja)
if(NINJA)
  set(generator -G Ninja)
endif()
build_against_install("the example" ${SOURCE_DIR}/docs/examples/plugin-skeleton ${example_build})
set(plugin ${example_build}/librtscope_plugin_skeleton.so)
if(NOT EXISTS ${plugin})
  message(FATAL_ERROR "the example did not produce ${plugin}")
endif()

run_step("nm" nm -D --defined-only ${plugin})
string(REGEX MATCHALL "[^\n]+" symbols "${step_output}")
foreach(line ${symbols})
  if(NOT line MATCHES " rts_plugin_entry$")
    message(FATAL_ERROR "the plugin exports more than rts_plugin_entry:\n${step_output}")
  endif()
endforeach()
expect_output("rts_plugin_entry" "the plugin does not export rts_plugin_entry")

# An application linking rtscope::host from the install loads the plugin.
build_against_install("the host app" ${CMAKE_CURRENT_LIST_DIR}/host_app ${WORK_DIR}/host-app-build)
run_step("host_app" ${WORK_DIR}/host-app-build/host_app ${plugin})
expect_output("loaded skeleton 0.1.0" "host_app did not load the skeleton plugin")

# A plugin built on the installed backend kit (rtscope::kit) exports only
# rts_plugin_entry too, and the host loads it.
build_against_install("the kit plugin" ${CMAKE_CURRENT_LIST_DIR}/kit_plugin
  ${WORK_DIR}/kit-plugin-build)
set(kit_plugin ${WORK_DIR}/kit-plugin-build/librtscope_plugin_kitdemo.so)
run_step("nm the kit plugin" nm -D --defined-only ${kit_plugin})
string(STRIP "${step_output}" kit_symbols)
if(NOT kit_symbols MATCHES "^[0-9a-f]+ T rts_plugin_entry$")
  message(FATAL_ERROR "the kit plugin exports more than rts_plugin_entry:\n${step_output}")
endif()
run_step("host_app on the kit plugin" ${WORK_DIR}/host-app-build/host_app ${kit_plugin})
expect_output("loaded kitdemo 0.1.0" "host_app did not load the kit plugin")

file(WRITE ${WORK_DIR}/add_relu.yaml [=[
name: add_relu
symbols:
  batch: {min: 1, opt: 4, max: 16}
inputs:
  - {name: a, dtype: f32, shape: [batch, 32]}
  - {name: b, dtype: f32, shape: [batch, 32]}
nodes:
  - {name: sum, op: add, inputs: [a, b], outputs: [s]}
  - {name: act, op: relu, inputs: [s], outputs: [y]}
outputs: [y]
]=])
file(WRITE ${WORK_DIR}/skeleton.yaml "plugins:
  - path: ${plugin}
models:
  add_relu:
    graph: ${WORK_DIR}/add_relu.yaml
    backends: [skeleton]
runtime:
  kernel_specialization: lazy
  graph_capture: disabled
run:
  - model: add_relu
    workload: {kind: batch, batch: 4}
    warmup: 1
    iterations: 5
")
run_step("rtscope-run" ${prefix}/bin/rtscope-run ${WORK_DIR}/skeleton.yaml
  --set run.0.iterations=3 --set runtime.cache=${WORK_DIR}/cache.bin
  --json ${WORK_DIR}/report.json)
expect_output("plugin skeleton " "the report does not name the skeleton plugin")
# The installed conformance tool passes the example an author starts from.
run_step("rtscope-conformance" ${prefix}/bin/rtscope-conformance --plugin ${plugin} --threads 2)
expect_output("0 failed" "rtscope-conformance did not pass the skeleton plugin")
message(STATUS "out-of-tree skeleton plugin built, run and checked:\n${step_output}")
