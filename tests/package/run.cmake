# Builds and runs a consumer project against beacon brought in by MODE: find_package (beacon
# installed from BUILD_DIR into WORK_DIR/prefix), add_subdirectory or fetchcontent (from SOURCE_DIR).
# For the default consumer it then installs the consumer's own library that wraps beacon into the
# prefix and builds tests/package/wrapper_user against that install; in find_package mode it also
# compiles the consumer in C++20 through pkg-config (CXX: the compiler).
# Today's policies: without them if() would take the quoted "consumer" below for the variable
# `consumer` (CMP0054), and the checks after the consumer's run would never be reached.
cmake_minimum_required(VERSION 3.16)
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
set(prefix ${WORK_DIR}/prefix)
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DCMAKE_PREFIX_PATH=${prefix} -DBEACON_CONSUME=find_package)
else()
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DBEACON_CONSUME=${MODE} -DBEACON_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT CONSUMER STREQUAL "consumer")
  return()
endif()

# The consumer's library wrapping beacon installs and exports, and beacon with it when beacon is
# part of the consumer's build; a program uses that install.
run(${CMAKE_COMMAND} --install ${WORK_DIR}/build --prefix ${prefix})
if(NOT EXISTS ${prefix}/include/beacon/beacon.hpp OR NOT EXISTS ${prefix}/share/cmake/beacon/beaconConfig.cmake)
  message(FATAL_ERROR "beacon was not installed with the library that wraps it")
endif()
if(NOT EXISTS ${prefix}/share/doc/beacon/LICENSE)
  message(FATAL_ERROR "beacon's LICENSE was not installed")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/wrapper_user -B ${WORK_DIR}/user -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/user)
run(${WORK_DIR}/user/wrapper_user)

if(MODE STREQUAL "find_package")
  # A component beacon does not have fails at configure time, naming it.
  file(WRITE ${WORK_DIR}/unknown/CMakeLists.txt
       "cmake_minimum_required(VERSION 3.16)\nproject(unknown LANGUAGES CXX)\nfind_package(beacon CONFIG REQUIRED COMPONENTS webb)\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/unknown -B ${WORK_DIR}/unknown/build -G ${GENERATOR}
                  -DCMAKE_PREFIX_PATH=${prefix} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX REPLACE "[ \n]+" " " out "${out}")  # CMake wraps the message's lines
  if(rc EQUAL 0 OR NOT out MATCHES "beacon has no component \"webb\" \\(its components: asio, metrics, postgres, redis, outbound, simdjson, sqlite, web\\)")
    message(FATAL_ERROR "find_package(beacon COMPONENTS webb) did not fail naming the component:\n${out}")
  endif()

  # The pkg-config file must lead to the installed headers wherever the prefix is, and must not
  # choose the language standard: the consumer compiled with -std=c++20 through it stays C++20.
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/share/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags beacon OUTPUT_VARIABLE cflags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX MATCH "-I([^ ]*/share/pkgconfig/../../include)" found "${cflags}")
  if(NOT rc EQUAL 0 OR NOT EXISTS "${CMAKE_MATCH_1}/beacon/beacon.hpp")
    message(FATAL_ERROR "pkg-config --cflags beacon does not lead to the installed headers: ${cflags}")
  endif()
  if(cflags MATCHES "-std=")
    message(FATAL_ERROR "pkg-config --cflags beacon chooses a language standard: ${cflags}")
  endif()
  execute_process(COMMAND ${PKG_CONFIG} --libs beacon OUTPUT_VARIABLE libs RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  separate_arguments(libs UNIX_COMMAND "${libs}")
  run(${CXX} -std=c++20 ${cflags} ${consumer}/main.cpp -o ${WORK_DIR}/pkg_config_consumer ${libs})
  run(${WORK_DIR}/pkg_config_consumer)
endif()
