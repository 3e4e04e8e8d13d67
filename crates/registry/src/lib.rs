//! The reference registries: the National Population Database (citizens) and the National Immigration
//! Database (foreigners). Registration reaches them only through the [`Registry`] trait, so a deployment can
//! point it at the real registry service; dinhdanh's own implementation, [`StoreRegistry`], reads the copy kept
//! in its database. This crate also imports that copy from files ([`import`]) and generates synthetic
//! registries for demos, tests and benchmarks ([`generate`]).

pub mod biometrics;
pub mod generate;
pub mod import;

use async_trait::async_trait;
use dinhdanh_domain::registry::{CitizenRecord, ForeignerRecord};
use dinhdanh_domain::{IdentificationNumber, Nationality, PassportNumber};
use dinhdanh_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry is unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Where registration looks up what the registries say about a person.
#[async_trait]
pub trait Registry: Send + Sync {
    async fn citizen(&self, id: &IdentificationNumber) -> Result<Option<CitizenRecord>, RegistryError>;
    async fn foreigner(
        &self,
        nationality: &Nationality,
        passport: &PassportNumber,
    ) -> Result<Option<ForeignerRecord>, RegistryError>;
}

/// The registries as copied into dinhdanh's own database.
#[derive(Clone)]
pub struct StoreRegistry {
    store: Store,
}

impl StoreRegistry {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Registry for StoreRegistry {
    async fn citizen(&self, id: &IdentificationNumber) -> Result<Option<CitizenRecord>, RegistryError> {
        Ok(self.store.find_citizen(id).await?)
    }

    async fn foreigner(
        &self,
        nationality: &Nationality,
        passport: &PassportNumber,
    ) -> Result<Option<ForeignerRecord>, RegistryError> {
        Ok(self.store.find_foreigner(nationality, passport).await?)
    }
}
