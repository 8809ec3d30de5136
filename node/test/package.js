'use strict'
// The package under test: the installed one when PEO_NODE_PACKAGE names its folder (the
// test command installs the npm tarballs from dist/ into an empty folder and sets it),
// else this source folder.
const path = require('node:path')

module.exports = process.env.PEO_NODE_PACKAGE || path.resolve(__dirname, '..')
