# Installs beacon from BUILD_DIR into WORK_DIR/prefix, then builds and runs the consumer project
# against it, either with find_package(beacon CONFIG REQUIRED) or through add_subdirectory.
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

# CONSUMER: the project under tests/package/ to build and run (default: consumer).
if(NOT DEFINED CONSUMER)
  set(CONSUMER consumer)
endif()
set(consumer ${SOURCE_DIR}/tests/package/${CONSUMER})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DBEACON_CONSUME=find_package)
else()
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DBEACON_CONSUME=add_subdirectory -DBEACON_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(MODE STREQUAL "find_package")
  # The pkg-config file must lead to the installed headers wherever the prefix is.
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/share/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags-only-I beacon OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX MATCH "-I([^ ]*/share/pkgconfig/../../include)" found "${flags}")
  if(NOT rc EQUAL 0 OR NOT EXISTS "${CMAKE_MATCH_1}/beacon/beacon.hpp")
    message(FATAL_ERROR "pkg-config --cflags beacon does not lead to the installed headers: ${flags}")
  endif()
endif()
