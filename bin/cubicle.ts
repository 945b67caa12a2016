#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { createApp } from '../lib/app';
import { configPathFrom, loadConfigOrExit } from '../lib/config/cli';

const app = new App();
createApp(app, loadConfigOrExit(configPathFrom(app)));
