//! Gateway: typed apps with named features in front of model servers
