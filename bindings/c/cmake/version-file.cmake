# cmake -DOUT=... -DVERSION=... -DCOMPAT=... -P version-file.cmake
# Writes peoConfigVersion.cmake with CMake's own helper (used by bindings/c/install.sh).
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${OUT}" VERSION "${VERSION}" COMPATIBILITY "${COMPAT}")
