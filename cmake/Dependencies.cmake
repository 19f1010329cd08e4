# Every dependency comes from a Debian 12 package (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(OpenSSL 3 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
if(KEDGE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(KEDGE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Asio is used header-only with separate compilation switched off; these keep the
# generated code small and the behaviour explicit.
add_library(kedge_boost_defs INTERFACE)
target_compile_definitions(kedge_boost_defs INTERFACE
  BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_BOOST_COROUTINE
  BOOST_BEAST_USE_STD_STRING_VIEW)
target_link_libraries(kedge_boost_defs INTERFACE Boost::headers Threads::Threads)
