#!/usr/bin/env node
import { main } from '../dist/cli/broker.js';
main(process.argv);
